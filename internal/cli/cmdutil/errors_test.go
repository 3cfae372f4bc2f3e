package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/capsol/capsol/pkg/client"
)

func TestClassifyExitCodes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, refused := client.New(closed, "admin-key-0123456789", nil).ListCapsules(context.Background(), "", "")
	if refused == nil {
		t.Fatal("a request to a closed port succeeded")
	}

	tests := []struct {
		name string
		err  error
		want int
	}{
		{"exit error keeps its code", &ExitError{Code: ExitUsage, Err: errors.New("bad flag")}, ExitUsage},
		{"401", &client.APIError{Status: http.StatusUnauthorized, Code: "invalid_token"}, ExitAuth},
		{"403", &client.APIError{Status: http.StatusForbidden, Code: "forbidden"}, ExitAuth},
		{"404 wrapped", fmt.Errorf("capsule x: %w", &client.APIError{Status: http.StatusNotFound}), ExitNotFound},
		{"409", &client.APIError{Status: http.StatusConflict}, ExitFailure},
		{"connection refused", refused, ExitUnreachable},
		{"deadline", fmt.Errorf("GET /v1/capsules: %w", context.DeadlineExceeded), ExitUnreachable},
		{"joined 404 and 409", errors.Join(&client.APIError{Status: http.StatusNotFound}, &client.APIError{Status: http.StatusConflict}), ExitNotFound},
		{"other", errors.New("disk full"), ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got.Code != tt.want {
				t.Errorf("Classify(%v).Code = %d, want %d", tt.err, got.Code, tt.want)
			}
		})
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
}

func TestClassifyNamesTheFix(t *testing.T) {
	auth := Classify(&client.APIError{Status: http.StatusUnauthorized, Message: "admin key does not match"})
	if want := "--key"; !strings.Contains(auth.Error(), want) {
		t.Errorf("401 message %q does not name %s", auth.Error(), want)
	}
	_, err := client.New("http://127.0.0.1:1", "k", nil).ListCapsules(context.Background(), "", "")
	unreachable := Classify(err)
	if !strings.Contains(unreachable.Error(), "http://127.0.0.1:1") || !strings.Contains(unreachable.Error(), "capsol serve") {
		t.Errorf("unreachable message %q does not name the address and the fix", unreachable.Error())
	}
}
