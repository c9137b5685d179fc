// Command argo-health runs Argo CD resource health checks (health.lua) the way Argo CD runs them: in
// gopher-lua, with the object as the global `obj`, a 1 s timeout, the package, base and table libraries
// (plus the standard libraries when open libs are on, as for built-in checks), and the returned table
// decoded into {status, message}; an unknown status becomes Unknown (argo-cd util/lua/lua.go).
//
//	argo-health test <resource_customizations dir>   every health_test.yaml below the directory, like Argo
//	                                                 CD's TestLuaHealthScript; each case runs with open libs
//	                                                 on and off, on int64 (controller) and float64 (Argo's
//	                                                 test) decodings of the object
//	argo-health eval <health.lua> <object file>...   one JSON line {path,status,message} per object
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// HealthStatus is Argo CD's health.HealthStatus.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

var validStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: argo-health test <dir> | argo-health eval <health.lua> <object>...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "test":
		os.Exit(runTests(os.Args[2]))
	case "eval":
		os.Exit(runEval(os.Args[2], os.Args[3:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// runLua is argo-cd's VM.runLua + ExecuteHealthLua.
func runLua(object map[string]any, script string, useOpenLibs bool) (*HealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !useOpenLibs})
	defer l.Close()
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, object))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type().String())
	}
	raw, err := json.Marshal(encodeValue(ret))
	if err != nil {
		return nil, err
	}
	hs := &HealthStatus{}
	if err := json.Unmarshal(raw, hs); err != nil {
		return nil, err
	}
	if !validStatuses[hs.Status] {
		return &HealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// decodeValue is argo-cd's decodeValue: Go values of an unstructured object to Lua values.
func decodeValue(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := L.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(L, item))
		}
		return arr
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(L, item))
		}
		return tbl
	}
	return lua.LNil
}

// encodeValue turns the returned table into JSON-able Go values (what layeh.com/gopher-json does for Argo).
func encodeValue(v lua.LValue) any {
	switch x := v.(type) {
	case lua.LBool:
		return bool(x)
	case lua.LNumber:
		return float64(x)
	case lua.LString:
		return string(x)
	case *lua.LTable:
		if x.MaxN() > 0 {
			arr := []any{}
			x.ForEach(func(_, item lua.LValue) { arr = append(arr, encodeValue(item)) })
			return arr
		}
		m := map[string]any{}
		x.ForEach(func(k, item lua.LValue) { m[k.String()] = encodeValue(item) })
		return m
	}
	return nil
}

// readObject decodes a YAML or JSON file as Argo CD's controller does (unstructured: integers are int64).
func readObject(path string) (map[string]any, error) {
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
	return u.Object, nil
}

// readObjectLikeArgoTest decodes as Argo CD's health_test.go does (sigs.k8s.io/yaml: numbers are float64).
func readObjectLikeArgoTest(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

type testFile struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus HealthStatus `json:"healthStatus"`
	} `json:"tests"`
}

func runTests(root string) int {
	passed, failed := 0, 0
	var scripts []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "health.lua" {
			scripts = append(scripts, path)
		}
		return err
	})
	if err != nil || len(scripts) == 0 {
		fmt.Fprintf(os.Stderr, "no health.lua below %s (%v)\n", root, err)
		return 1
	}
	sort.Strings(scripts)
	for _, scriptPath := range scripts {
		dir := filepath.Dir(scriptPath)
		script, err := os.ReadFile(scriptPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s has no health_test.yaml: %v\n", dir, err)
			return 1
		}
		var tf testFile
		if err := yaml.Unmarshal(raw, &tf); err != nil || len(tf.Tests) == 0 {
			fmt.Fprintf(os.Stderr, "%s/health_test.yaml: no tests (%v)\n", dir, err)
			return 1
		}
		for _, tc := range tf.Tests {
			input := filepath.Join(dir, tc.InputPath)
			ok := true
			for _, decode := range []struct {
				name string
				read func(string) (map[string]any, error)
			}{{"int64", readObject}, {"float64", readObjectLikeArgoTest}} {
				obj, err := decode.read(input)
				if err != nil {
					fmt.Printf("FAIL %s: %v\n", tc.InputPath, err)
					ok = false
					continue
				}
				for _, openLibs := range []bool{true, false} {
					got, err := runLua(obj, string(script), openLibs)
					if err != nil {
						fmt.Printf("FAIL %s (openLibs=%v, %s): %v\n", tc.InputPath, openLibs, decode.name, err)
						ok = false
					} else if *got != tc.HealthStatus {
						fmt.Printf("FAIL %s (openLibs=%v, %s): want %+v, got %+v\n", tc.InputPath, openLibs, decode.name, tc.HealthStatus, *got)
						ok = false
					}
				}
			}
			if ok {
				passed++
				fmt.Printf("ok   %s: %s %q\n", tc.InputPath, tc.HealthStatus.Status, tc.HealthStatus.Message)
			} else {
				failed++
			}
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func runEval(scriptPath string, inputs []string) int {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	for _, input := range inputs {
		obj, err := readObject(input)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		hs, err := runLua(obj, string(script), false)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", input, err)
			return 1
		}
		_ = enc.Encode(map[string]string{"path": input, "status": hs.Status, "message": hs.Message})
	}
	return 0
}
