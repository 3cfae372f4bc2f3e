package cmdutil

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/backup"
)

// LimitFlags are the archive limit flags of capsol backup verify, restore
// and restore drill.
type LimitFlags struct {
	maxFileSize  string
	maxTotalSize string
	maxFiles     int
}

// Register declares the flags on cmd.
func (l *LimitFlags) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&l.maxFileSize, "max-file-size", "1GiB", "largest file accepted in the archive, such as 1GiB or 500MB")
	cmd.Flags().StringVar(&l.maxTotalSize, "max-total-size", "1TiB", "largest total of all files (a restore also stops at the free disk space)")
	cmd.Flags().IntVar(&l.maxFiles, "max-files", backup.DefaultMaxMembers, "largest number of archive members")
}

// Parse returns the limits the flags set.
func (l *LimitFlags) Parse() (backup.Limits, error) {
	perFile, err := ParseSize(l.maxFileSize)
	if err != nil {
		return backup.Limits{}, UsageError("--max-file-size: %v", err)
	}
	total, err := ParseSize(l.maxTotalSize)
	if err != nil {
		return backup.Limits{}, UsageError("--max-total-size: %v", err)
	}
	if l.maxFiles <= 0 {
		return backup.Limits{}, UsageError("--max-files must be positive, got %d", l.maxFiles)
	}
	return backup.Limits{MaxMemberBytes: perFile, MaxTotalBytes: total, MaxMembers: l.maxFiles}, nil
}
