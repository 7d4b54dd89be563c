package ctl

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

func residentPlanSet() *command {
	return &command{name: "set", args: "ID FILE|-", nargs: 2, summary: "replace a resident's response plan from a YAML or JSON file",
		help: `The file maps an event type (smoke.alarm), an alarm type (smoke, fall) or a
family (band) to the steps to take, in order; an alarm shows the steps of its
event type, else its alarm type, else its family. An empty file or {} removes
the plan. Supervisors and admins may; the change is audited.

  smoke:
    - do: call 119
      phone: "119"
    - do: call the daughter 李娜; the key is with the neighbour in No. 14
      phone: "13800000001"
  call:
    - do: call her back`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				data, err := readInput(e, args[1])
				if err != nil {
					return err
				}
				plan, err := parsePlan(data)
				if err != nil {
					return fmt.Errorf("%s: %w", args[1], err)
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				r, err := c.SetPlan(e.ctx, args[0], plan)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(r.Plan)
				}
				e.printf("Response plan of %s %s: %d alarm types.\n", r.ID, r.Name, len(r.Plan))
				return nil
			}
		}}
}

// maxPlanFile bounds a plan file: 30 alarm types of 10 steps fit many times.
const maxPlanFile = 256 << 10

// parsePlan reads a plan written as YAML or JSON (JSON is YAML), refusing
// fields it does not know.
func parsePlan(data []byte) (apiclient.Plan, error) {
	plan := apiclient.Plan{}
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if len(data) > maxPlanFile {
		return nil, fmt.Errorf("%d bytes: a response plan file is at most %d", len(data), maxPlanFile)
	}
	if err := d.Decode(&plan); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a response plan (a map of alarm type to a list of {do, phone}): %w", err)
	}
	if plan == nil { // null, ~ or a bare tag: no plan
		plan = apiclient.Plan{}
	}
	return plan, nil
}

func residentPlanShow() *command {
	return &command{name: "show", args: "ID", nargs: 1, summary: "show a resident's response plan",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				r, err := c.Resident(e.ctx, args[0])
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(r.Plan)
				}
				if len(r.Plan) == 0 {
					e.printf("%s %s has no response plan.\n", r.ID, r.Name)
					return nil
				}
				var rows [][]string
				keys := make([]string, 0, len(r.Plan))
				for k := range r.Plan {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					for i, s := range r.Plan[k] {
						rows = append(rows, []string{k, fmt.Sprint(i + 1), s.Do, dash(s.Phone)})
						k = ""
					}
				}
				writeTable(e.stdout, []string{"ALARM", "STEP", "DO", "PHONE"}, rows)
				return nil
			}
		}}
}
