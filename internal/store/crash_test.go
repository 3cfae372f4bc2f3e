package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/ids"
)

const crashChildEnv = "CAPSOL_CRASH_CHILD_DIR"

// TestCrashChildProcess is the writer that TestCrashDuringWrites kills. It
// does nothing in a normal test run.
func TestCrashChildProcess(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashDuringWrites")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	generation := generationOf(s.Capsules.Get())
	for {
		generation++
		next := generation
		err := s.Capsules.Update(func(doc *CapsulesDoc) error {
			*doc = generationDoc(next)
			return nil
		})
		if err != nil {
			fmt.Println("update failed:", err)
			os.Exit(4)
		}
		// The shares file changes in step so that two files are written
		// back to back, as a daemon does.
		err = s.Shares.Update(func(doc *SharesDoc) error {
			doc.Shares = []Share{{ConnectionID: connectionIDs[next%len(connectionIDs)], CapsuleID: doc0CapsuleID, Label: "gen-" + strconv.Itoa(next)}}
			return nil
		})
		if err != nil {
			fmt.Println("update failed:", err)
			os.Exit(4)
		}
		fmt.Printf("committed %d\n", next)
	}
}

var (
	doc0CapsuleID = "cap_01hq3z9x8k7m6n5p4r3s2t1v0w"
	connectionIDs = []string{ids.New(ids.Connection), ids.New(ids.Connection), ids.New(ids.Connection)}
)

// generationDoc builds the capsules document of generation n: n%40+1
// capsules, every one named after n and padded, so a torn or mixed file is
// detectable.
func generationDoc(n int) CapsulesDoc {
	doc := CapsulesDoc{Capsules: []Capsule{}}
	for i := 0; i < n%40+1; i++ {
		doc.Capsules = append(doc.Capsules, Capsule{
			ID:        doc0CapsuleID,
			Name:      fmt.Sprintf("gen-%d/%s", n, strings.Repeat("x", 200)),
			CreatedAt: time.Unix(int64(n), 0).UTC(),
		})
	}
	return doc
}

// generationOf returns the generation a document holds, or -1 when it is
// not a whole generation document.
func generationOf(doc *CapsulesDoc) int {
	if len(doc.Capsules) == 0 {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(doc.Capsules[0].Name, "gen-%d/", &n); err != nil {
		return -1
	}
	want := generationDoc(n)
	if len(want.Capsules) != len(doc.Capsules) {
		return -1
	}
	for i := range want.Capsules {
		if want.Capsules[i].Name != doc.Capsules[i].Name || !want.Capsules[i].CreatedAt.Equal(doc.Capsules[i].CreatedAt) {
			return -1
		}
	}
	return n
}

// TestCrashDuringWrites kills a writer with SIGKILL at random moments, many
// times, and checks after each kill that every index file parses and holds
// a whole generation no older than the last one the writer reported as
// committed.
func TestCrashDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process many times")
	}
	s := newStore(t)
	const rounds = 100
	committed := 0

	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+s.Dir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		lines := make(chan string, 1024)
		go func() {
			scanner := bufio.NewScanner(stdout)
			for scanner.Scan() {
				lines <- scanner.Text()
			}
			close(lines)
		}()

		// Let it commit at least one generation, then kill it somewhere
		// inside a later write.
		deadline := time.After(10 * time.Second)
		for seen := false; !seen; {
			select {
			case line, ok := <-lines:
				require.True(t, ok, "writer exited early")
				n, err := strconv.Atoi(strings.TrimPrefix(line, "committed "))
				require.NoError(t, err, "writer said: %s", line)
				committed = n
				seen = true
			case <-deadline:
				t.Fatal("writer committed nothing within 10s")
			}
		}
		time.Sleep(time.Duration(rand.IntN(15000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		for line := range lines {
			n, err := strconv.Atoi(strings.TrimPrefix(line, "committed "))
			require.NoError(t, err, line)
			committed = n
		}

		_, _, err = Check(s.Dir)
		require.NoError(t, err, "round %d", round)
		reopened, err := Open(s.Dir, Options{})
		require.NoError(t, err, "round %d", round)
		generation := generationOf(reopened.Capsules.Get())
		require.GreaterOrEqual(t, generation, 0, "round %d: capsules.json holds a mixed document", round)
		require.GreaterOrEqual(t, generation, committed, "round %d: a committed write was lost", round)
		require.LessOrEqual(t, generation, committed+1, "round %d", round)
		shares := reopened.Shares.Get().Shares
		require.Len(t, shares, 1, "round %d", round)
		require.True(t, strings.HasPrefix(shares[0].Label, "gen-"), "round %d", round)
		if _, err := RemoveStaleTemps(s.Dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, last committed generation %d", rounds, committed)
}
