package main

import (
	"strings"
	"testing"
)

func TestRunRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--backends is required"},
		{[]string{"--backends", "127.0.0.1:8081"}, "without a path"},
		{[]string{"--backends", "http://127.0.0.1:8081", "extra"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := run(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
