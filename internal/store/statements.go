package store

// Statements is the SQL a backend runs on the mapping's hot path. It is exported (within the
// module) so that test/benchsync's raw-driver baseline runs exactly the store's statements: a
// baseline running other SQL would measure something else.
type Statements struct {
	// Get takes the token and returns (version, data).
	Get string
	// Upsert takes (token, version, data).
	Upsert string
	// Delete takes the token.
	Delete string
}

// SQLiteStatements are the SQLite store's statements.
func SQLiteStatements() Statements {
	return Statements{
		Get: `SELECT version, data FROM mapping WHERE token = ?`,
		Upsert: `INSERT INTO mapping (token, version, data) VALUES (?, ?, ?)
	ON CONFLICT (token) DO UPDATE SET version = excluded.version, data = excluded.data`,
		Delete: `DELETE FROM mapping WHERE token = ?`,
	}
}

// PostgresStatements are the PostgreSQL store's statements.
func PostgresStatements() Statements {
	return Statements{
		Get: `SELECT version, data FROM mapping WHERE token = $1`,
		Upsert: `INSERT INTO mapping (token, version, data) VALUES ($1, $2, $3)
	ON CONFLICT (token) DO UPDATE SET version = excluded.version, data = excluded.data`,
		Delete: `DELETE FROM mapping WHERE token = $1`,
	}
}
