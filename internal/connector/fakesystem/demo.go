package fakesystem

// DemoPatients are made-up patients for demonstrations; their names say they are not real.
func DemoPatients() []map[string]any {
	return []map[string]any{
		{"id": 1001, "first_name": "Testy", "last_name": "McTestface", "dob": "1970-01-01", "updated_at": "2026-01-01T09:00:00Z"},
		{"id": 1002, "first_name": "Fakey", "last_name": "Fakerson", "dob": "1980-02-02", "updated_at": "2026-01-02T09:00:00Z"},
		{"id": 1003, "first_name": "Placeholder", "last_name": "Person", "dob": "1990-03-03", "updated_at": "2026-01-03T09:00:00Z"},
		{"id": 1004, "first_name": "Demo", "last_name": "Dummy", "dob": "2000-04-04", "updated_at": "2026-01-04T09:00:00Z"},
		{"id": 1005, "first_name": "Sample", "last_name": "Notreal", "dob": "2010-05-05", "updated_at": "2026-01-05T09:00:00Z"},
	}
}
