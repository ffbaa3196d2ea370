package config_test

import (
	"fmt"
	"os"

	"github.com/appstrate/appstrate-go/internal/config"
)

func ExampleLoad() {
	env := map[string]string{"PORT": "8080", "DATABASE_URL": "postgres://app:secret@db:5432/appstrate"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(cfg.AppURL, cfg.Tier())
	for _, s := range cfg.Redacted() {
		if s.Name == "DATABASE_URL" {
			fmt.Println(s.Name + "=" + s.Value)
		}
	}
	// Output:
	// http://localhost:8080 1
	// DATABASE_URL=postgres://app:xxxxx@db:5432/appstrate
}

func ExampleError() {
	_, err := config.Load(func(k string) (string, bool) {
		if k == "PORT" {
			return "abc", true
		}
		return "", false
	})
	fmt.Println(err)
	// Output: PORT="abc" is invalid: expected an integer between 1 and 65535
}
