package cmdutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrCancelled is returned when the user declines a confirmation.
var ErrCancelled = errors.New("cancelled: nothing was changed")

// Confirm writes question to out and reads a yes or no answer from in.
// Only "y" and "yes", in any case, are yes; an empty answer or the end of
// input is no.
func Confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the confirmation from standard input: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
