package store

// rows is what database/sql's and pgx's result sets have in common, so that both backends read
// their results with the same code.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanCounts reads (version, count) rows.
func scanCounts(r rows) (map[int32]int64, error) {
	out := map[int32]int64{}
	for r.Next() {
		var v int32
		var n int64
		if err := r.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[v] = n
	}
	return out, r.Err()
}

// scanRows reads (token, version, data) rows.
func scanRows(r rows) ([]Row, error) {
	var out []Row
	for r.Next() {
		var row Row
		if err := r.Scan(&row.Token, &row.Version, &row.Data); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, r.Err()
}

// scanCursors reads (name, value) rows.
func scanCursors(r rows) (map[string]string, error) {
	out := map[string]string{}
	for r.Next() {
		var name, value string
		if err := r.Scan(&name, &value); err != nil {
			return nil, err
		}
		out[name] = value
	}
	return out, r.Err()
}

// scanDeliveries reads (seq, queue, sealed) rows.
func scanDeliveries(r rows) ([]Delivery, error) {
	var out []Delivery
	for r.Next() {
		var d Delivery
		if err := r.Scan(&d.Seq, &d.Queue, &d.Sealed); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, r.Err()
}
