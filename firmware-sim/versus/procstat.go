package versus

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procUsage is what /proc says one process has used.
type procUsage struct {
	CPU float64 // user + system seconds since it started
	RSS int64   // resident set, bytes
}

// readUsage reads /proc/PID/stat and /proc/PID/status.
func readUsage(pid int) (procUsage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	u := procUsage{CPU: (ut + st) / clockTicks}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.RSS = kb << 10
		}
	}
	return u, nil
}

// usageOf sums the usage of pids (a server and its helpers); pids that are
// 0 are skipped, and none gives ok false (a server at a given address).
func usageOf(pids ...int) (procUsage, bool) {
	var sum procUsage
	ok := false
	for _, pid := range pids {
		if pid == 0 {
			continue
		}
		u, err := readUsage(pid)
		if err != nil {
			continue
		}
		sum.CPU += u.CPU
		sum.RSS += u.RSS
		ok = true
	}
	return sum, ok
}
