package conformance

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Expectations are the tests known to differ, by suite and name (the
// subset of TOML the wasi-testsuite's expectation files use:
// [[suite]] name = "...", then [[suite.test]] name = "..." action = "...").
type Expectations map[string]map[string]string // suite: test: action

// Lists reports whether the test is listed (to be skipped or known to fail).
func (e Expectations) Lists(t Test) bool {
	_, ok := e[t.Suite][t.Name]
	return ok
}

// ParseExpectations reads an expectations file; an error names the line.
func ParseExpectations(path string) (Expectations, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := Expectations{}
	suite, test := "", ""
	section := ""
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if i := strings.Index(text, "#"); i >= 0 && !strings.Contains(text[:i], `"`) {
			text = strings.TrimSpace(text[:i])
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", path, line, why) }
		switch {
		case text == "":
		case text == "[[suite]]":
			section, suite, test = "suite", "", ""
		case text == "[[suite.test]]":
			if suite == "" {
				return nil, bad("[[suite.test]] before its suite's name")
			}
			section, test = "test", ""
		default:
			key, value, ok := strings.Cut(text, "=")
			if !ok {
				return nil, bad(fmt.Sprintf("want key = value, not %q", text))
			}
			key = strings.TrimSpace(key)
			value = strings.TrimSpace(value)
			if uq, err := strconv.Unquote(value); err == nil {
				value = uq
			}
			switch {
			case section == "" && key == "version":
			case section == "suite" && key == "name":
				suite = value
				if e[suite] == nil {
					e[suite] = map[string]string{}
				}
			case section == "test" && key == "name":
				test = value
				e[suite][test] = "skip"
			case section == "test" && key == "action" && test != "":
				e[suite][test] = value
			default:
				return nil, bad(fmt.Sprintf("unexpected key %q", key))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return e, nil
}
