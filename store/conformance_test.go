package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryStoreMethodIsInItsConformanceSuite holds the conformance
// suites to every statement: each package that owns tables keeps its SQL
// in its store files (store.go, store_*.go),
// as unexported methods and functions that take a context, and its
// store_test.go runs each of them (River's riverdrivertest runs every
// driver method against each engine; make test runs ours on both). A
// method added without a test there fails here, naming it.
func TestEveryStoreMethodIsInItsConformanceSuite(t *testing.T) {
	t.Parallel()
	storeFile := regexp.MustCompile(`^(store|store_[a-z]+)\.go$`)
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "store" || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		dir := filepath.Join("..", d.Name())
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		var methods []string
		for _, f := range files {
			if !storeFile.MatchString(filepath.Base(f)) {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if ok && !fn.Name.IsExported() && takesContext(fn) {
					methods = append(methods, fn.Name.Name)
				}
			}
		}
		if len(methods) == 0 {
			continue
		}
		suite, err := os.ReadFile(filepath.Join(dir, "store_test.go"))
		if err != nil {
			t.Errorf("%s keeps statements in its store files but has no conformance suite (store_test.go): %v", d.Name(), err)
			continue
		}
		slices.Sort(methods)
		for _, m := range slices.Compact(methods) {
			checked++
			if !regexp.MustCompile(`\b` + m + `\(`).Match(suite) {
				t.Errorf("%s/store_test.go does not run %s", d.Name(), m)
			}
		}
	}
	t.Logf("%d store methods and functions checked", checked)
	if checked < 150 {
		t.Errorf("checked %d store methods; the walk missed the packages", checked)
	}
}

// takesContext reports whether fn's first parameter is a context.Context.
func takesContext(fn *ast.FuncDecl) bool {
	ps := fn.Type.Params.List
	if len(ps) == 0 {
		return false
	}
	sel, ok := ps[0].Type.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Context"
}
