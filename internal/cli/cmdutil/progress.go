package cmdutil

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress draws a byte progress bar on w when w is a terminal, and
// nothing otherwise, so scripts see no progress output. A nil *Progress
// draws nothing.
type Progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int64
}

// NewProgress returns a progress bar labeled description on w, or nil when
// w is not a terminal.
func NewProgress(w io.Writer, description string) *Progress {
	if !IsTerminal(w) {
		return nil
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)
	return &Progress{bar: bar, w: w, total: -1}
}

// Update moves the bar to done of total bytes. A total of 0 or less means
// unknown, which draws a spinner.
func (p *Progress) Update(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if total > 0 && total != p.total {
		p.bar.ChangeMax64(total)
		p.total = total
	}
	_ = p.bar.Set64(done)
}

// Finish removes the bar from the terminal.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Clear()
	_ = p.bar.Exit()
	fmt.Fprint(p.w, "\r")
}
