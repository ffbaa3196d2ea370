package profile

import (
	"errors"
	"os"
	"path/filepath"
)

// ConfigDir is $XDG_CONFIG_HOME/appstrate, or ~/.config/appstrate when XDG_CONFIG_HOME is unset or empty.
func ConfigDir(getenv func(string) string) (string, error) {
	return xdgDir(getenv, "XDG_CONFIG_HOME", ".config")
}

// CacheDir is $XDG_CACHE_HOME/appstrate, or ~/.cache/appstrate.
func CacheDir(getenv func(string) string) (string, error) {
	return xdgDir(getenv, "XDG_CACHE_HOME", ".cache")
}

func xdgDir(getenv func(string) string, variable, fallback string) (string, error) {
	if base := getenv(variable); base != "" {
		return filepath.Join(base, "appstrate"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil || home == "" {
			return "", errors.New("cannot locate the home directory: set HOME or " + variable)
		}
	}
	return filepath.Join(home, fallback, "appstrate"), nil
}
