package fakesystem

import (
	"fmt"
	"slices"
	"strings"
)

// propertyIndex finds a fake's records by the value of some of their properties without a pass over
// every record, so that a fake answers in the same time with 10 records or 10,000 and the
// benchmark measures the runtime, not the fake. A fake's records are only ever appended, so a
// record is its position in the fake's slice; where several records hold a value, the first in
// that order is the one a pass would have found. A changed record is indexed again (reindex),
// which replaces the entries it had.
type propertyIndex struct {
	// fold matches values case-insensitively, as the vendors' duplicate checks do.
	fold bool
	// by holds, per property and value, the positions of the records holding it, in order.
	by map[string]map[string][]int
	// indexed are each position's keys, so that reindex removes exactly what add put in.
	indexed map[int][][2]string
	fields  []string
}

func newPropertyIndex(fold bool, fields ...string) *propertyIndex {
	x := &propertyIndex{fold: fold, by: map[string]map[string][]int{}, indexed: map[int][][2]string{}, fields: fields}
	for _, f := range fields {
		x.by[f] = map[string][]int{}
	}
	return x
}

func (x *propertyIndex) key(v any) (string, bool) {
	if v == nil {
		return "", false
	}
	s := fmt.Sprint(v)
	if x.fold {
		s = strings.ToLower(s)
	}
	return s, true
}

// add indexes the record at position i as it is now.
func (x *propertyIndex) add(i int, r map[string]any) {
	for _, f := range x.fields {
		k, ok := x.key(r[f])
		if !ok {
			continue
		}
		at := x.by[f][k]
		j, _ := slices.BinarySearch(at, i)
		x.by[f][k] = slices.Insert(at, j, i)
		x.indexed[i] = append(x.indexed[i], [2]string{f, k})
	}
}

// reindex replaces the entries of the record at position i by those of r as it is now (a new
// record has none to replace).
func (x *propertyIndex) reindex(i int, r map[string]any) {
	for _, fk := range x.indexed[i] {
		at := x.by[fk[0]][fk[1]]
		if j, found := slices.BinarySearch(at, i); found {
			at = slices.Delete(at, j, j+1)
		}
		if len(at) == 0 {
			delete(x.by[fk[0]], fk[1])
		} else {
			x.by[fk[0]][fk[1]] = at
		}
	}
	delete(x.indexed, i)
	x.add(i, r)
}

// has says whether field is indexed.
func (x *propertyIndex) has(field string) bool { return slices.Contains(x.fields, field) }

// find returns the positions of the records whose field holds v, in order.
func (x *propertyIndex) find(field string, v any) []int {
	k, ok := x.key(v)
	if !ok {
		return nil
	}
	return x.by[field][k]
}

// first returns the position of the first record whose field holds v, or -1.
func (x *propertyIndex) first(field string, v any) int {
	if at := x.find(field, v); len(at) > 0 {
		return at[0]
	}
	return -1
}
