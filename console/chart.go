package console

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/milestone/husky/retention"
)

// chart draws the report per fiscal year as stacked bars (purgeable, held,
// stale), server-side: an inline SVG of numbers and years only, styled by
// the stylesheet, with a text alternative.
func chart(years []retention.FiscalYearCount) template.HTML {
	if len(years) == 0 {
		return template.HTML(`<p>Nothing is past retention, held or stale as of this date.</p>`)
	}
	const (
		barW, gap, height, top, bottom, left = 28, 14, 120, 12, 22, 36
	)
	maxN := 1
	for _, y := range years {
		maxN = max(maxN, y.Purgeable+y.Held+y.Stale)
	}
	width := left + len(years)*(barW+gap) + gap
	var b strings.Builder
	var alt []string
	for _, y := range years {
		alt = append(alt, fmt.Sprintf("fiscal year %d: %d purgeable, %d held, %d stale", y.FiscalYear, y.Purgeable, y.Held, y.Stale))
	}
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width*2, (height+top+bottom)*2, width, height+top+bottom, template.HTMLEscapeString(strings.Join(alt, "; ")))
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, top+height, width, top+height)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%d</text>`, left-6, top+8, maxN)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">0</text>`, left-6, top+height)
	for i, y := range years {
		x := left + gap + i*(barW+gap)
		base := top + height
		for _, part := range []struct {
			class string
			n     int
		}{{"purgeable", y.Purgeable}, {"held", y.Held}, {"stale", y.Stale}} {
			if part.n == 0 {
				continue
			}
			h := max(1, part.n*height/maxN)
			base -= h
			fmt.Fprintf(&b, `<rect class="bar-%s" x="%d" y="%d" width="%d" height="%d"><title>%d: %d %s</title></rect>`,
				part.class, x, base, barW, h, y.FiscalYear, part.n, part.class)
		}
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="middle">%d</text>`, x+barW/2, top+height+18, y.FiscalYear)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
