// SPDX-License-Identifier: GPL-2.0-or-later

// A tiny client of assignd on the Go Varlink library Debian packages
// (golang-github-varlink-go-dev), the second implementation the
// integration test holds the daemon to.  Over one connection it calls
// GetInfo the library's own way, GetStatus and ListDevices with
// "parameters": null as Go clients send for methods without input,
// GetStatus with "more" (a single reply, final), and GetDevice of a path
// that does not exist (an error the library must see by name).  It prints
// what it got as one JSON object for the test to compare with the daemon's
// own answers, and exits 1 on any failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/varlink/go/varlink"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "varlink-go: %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: varlink-go SOCKET")
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := varlink.NewConnection(ctx, "unix:"+os.Args[1])
	if err != nil {
		fail("connect", err)
	}
	defer c.Close()

	var vendor, version string
	var interfaces []string
	if err := c.GetInfo(ctx, &vendor, nil, &version, nil, &interfaces); err != nil {
		fail("GetInfo", err)
	}

	null := json.RawMessage("null")
	var status struct {
		Version string `json:"version"`
		Backend string `json:"backend"`
		Devices struct {
			Total int `json:"total"`
		} `json:"devices"`
	}
	if err := c.Call(ctx, "io.assignd.Broker.GetStatus", null, &status); err != nil {
		fail("GetStatus with null parameters", err)
	}
	var list struct {
		Devices []struct {
			Path string `json:"path"`
		} `json:"devices"`
	}
	if err := c.Call(ctx, "io.assignd.Broker.ListDevices", null, &list); err != nil {
		fail("ListDevices with null parameters", err)
	}
	paths := []string{}
	for _, d := range list.Devices {
		paths = append(paths, d.Path)
	}

	receive, err := c.Send(ctx, "io.assignd.Broker.GetStatus", null, varlink.More)
	if err != nil {
		fail("GetStatus with more", err)
	}
	var again map[string]interface{}
	flags, err := receive(ctx, &again)
	if err != nil {
		fail("GetStatus with more", err)
	}

	var dev map[string]interface{}
	errorName := ""
	err = c.Call(ctx, "io.assignd.Broker.GetDevice", map[string]string{"path": "/no/such@0"}, &dev)
	var verr *varlink.Error
	if errors.As(err, &verr) {
		errorName = verr.Name
	} else {
		fail("GetDevice of nothing", fmt.Errorf("not a Varlink error: %v", err))
	}

	out, _ := json.Marshal(map[string]interface{}{
		"vendor":          vendor,
		"version":         version,
		"interfaces":      interfaces,
		"status_version":  status.Version,
		"backend":         status.Backend,
		"total":           status.Devices.Total,
		"paths":           paths,
		"more_continues":  flags&varlink.Continues != 0,
		"more_version":    again["version"],
		"not_found_error": errorName,
	})
	fmt.Println(string(out))
}
