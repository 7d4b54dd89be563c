//go:build !linux

package ctl

import (
	"errors"
	"os"
)

// echoOff is only implemented on Linux, where installers' laptops and the
// Raspberry Pi run; elsewhere the password is read with echo on.
func echoOff(*os.File) (func(), error) {
	return nil, errors.New("turning echo off is not supported on this system")
}
