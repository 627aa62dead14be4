package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestParametersAreNumberedInOrder reads every string literal of the
// module's Go files: SQLite gives $n the next number at its first
// appearance, whatever n says, so a statement that names $3 before $2
// would bind each to the other's value there and not on PostgreSQL. In
// every literal, the parameters first appear in ascending order, each
// one more than the highest before it.
func TestParametersAreNumberedInOrder(t *testing.T) {
	t.Parallel()
	param := regexp.MustCompile(`\$(\d+)`)
	sqlWord := regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|SET|FROM|AND)\b`)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || !strings.Contains(lit.Value, "$") {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !sqlWord.MatchString(s) {
				return true
			}
			high := 0 // the highest number so far; a fragment may start past $1
			for _, m := range param.FindAllStringSubmatch(s, -1) {
				k, _ := strconv.Atoi(m[1])
				if high != 0 && k > high+1 {
					t.Errorf("%s: $%d appears before $%d", fset.Position(lit.Pos()), k, high+1)
					return true
				}
				high = max(high, k)
			}
			checked++
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Errorf("checked %d literals with parameters: the walk missed the module's statements", checked)
	}
}
