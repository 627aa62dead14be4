package store

import "testing"

func TestRedactURLHidesEveryPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"userinfo", "postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"query_password", "postgres://u@h/db?password=secret&sslmode=require", "postgres://u@h/db?password=xxxxx&sslmode=require"},
		{"ssl_secrets", "postgresql://h/db?sslpassword=secret&sslkey=%2Fk.pem&application_name=husky",
			"postgresql://h/db?application_name=husky&sslkey=xxxxx&sslpassword=xxxxx"},
		{"unknown_options_hidden", "postgres://h/db?options=-c%20x%3Dsecret", "postgres://h/db?options=xxxxx"},
		{"a_sqlite_path_as_it_is", "/var/lib/husky/husky.db", "/var/lib/husky/husky.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
