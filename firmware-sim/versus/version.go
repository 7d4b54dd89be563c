package versus

import (
	"os/exec"
	"regexp"
)

var versionRE = regexp.MustCompile(`mosquitto version ([0-9.]+)`)

// mosquittoVersion asks the binary; "" when it will not say.
func mosquittoVersion(bin string) string {
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits non-zero
	if m := versionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}
