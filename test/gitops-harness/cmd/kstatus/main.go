// Command kstatus computes what Flux, kpt and cli-utils' status poller see: the kstatus of an object
// (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute), decoded with unstructured.UnmarshalJSON as the
// client libraries decode it (plain encoding/json would give float64 generations).
//
//	kstatus test <kstatus_test.yaml>   tests: [{inputPath, status, message}] (paths relative to the file)
//	kstatus eval <object file>...      one JSON line {path,status,message} per object
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func compute(path string) (*status.Result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return status.Compute(u)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: kstatus test <kstatus_test.yaml> | kstatus eval <object>...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "eval":
		enc := json.NewEncoder(os.Stdout)
		for _, p := range os.Args[2:] {
			res, err := compute(p)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			_ = enc.Encode(map[string]string{"path": p, "status": res.Status.String(), "message": res.Message})
		}
	case "test":
		os.Exit(runTests(os.Args[2]))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runTests(file string) int {
	raw, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var tf struct {
		Tests []struct {
			InputPath string `json:"inputPath"`
			Status    string `json:"status"`
			Message   string `json:"message"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tf); err != nil || len(tf.Tests) == 0 {
		fmt.Fprintf(os.Stderr, "%s: no tests (%v)\n", file, err)
		return 1
	}
	passed, failed := 0, 0
	for _, tc := range tf.Tests {
		res, err := compute(filepath.Join(filepath.Dir(file), tc.InputPath))
		switch {
		case err != nil:
			fmt.Printf("FAIL %s: %v\n", tc.InputPath, err)
			failed++
		case res.Status.String() != tc.Status || res.Message != tc.Message:
			fmt.Printf("FAIL %s: want %s %q, got %s %q\n", tc.InputPath, tc.Status, tc.Message, res.Status, res.Message)
			failed++
		default:
			fmt.Printf("ok   %s: %s %q\n", tc.InputPath, res.Status, res.Message)
			passed++
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
