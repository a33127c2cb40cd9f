package cli

import (
	"os"
	"os/exec"
)

// hooks are tcpflow's -S tcp_alert_fd / tcp_cmd / http_alert_fd / http_cmd:
// "event\tname\n" lines on an inherited descriptor, and a shell command run
// on each closed flow file or HTTP body (at most 10 at a time).
type hooks struct {
	r        *run
	running  []*exec.Cmd
	maxProcs int
}

// alertWriter returns a function writing "event\tname\n" to descriptor fd,
// or nil when fd is negative.
func (h *hooks) alertWriter(fd int64) func(event, name string) {
	if fd < 0 {
		return nil
	}
	f := os.NewFile(uintptr(fd), "alert_fd")
	return func(event, name string) {
		if _, err := f.WriteString(event + "\t" + name + "\n"); err != nil {
			h.r.errln("write: " + strerror(err))
		}
	}
}

// command returns a function running "cmd name" through the shell, or nil
// when cmd is empty.
func (h *hooks) command(cmd string) func(name string) {
	if cmd == "" {
		return nil
	}
	return func(name string) {
		for len(h.running) >= h.maxProcs {
			_ = h.running[0].Wait() // tcpflow ignores the child's status
			h.running = h.running[1:]
		}
		c := exec.Command("/bin/sh", "-c", cmd+" "+name)
		c.Stdout, c.Stderr = h.r.stdout, h.r.stderr
		if err := c.Start(); err != nil {
			h.r.die("Cannot fork child")
			return
		}
		h.running = append(h.running, c)
	}
}

// wait collects the commands still running at the end of the run.
func (h *hooks) wait() {
	for _, c := range h.running {
		_ = c.Wait() // their status does not change bpflow's
	}
	h.running = nil
}
