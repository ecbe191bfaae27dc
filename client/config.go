package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Config says how to reach and authenticate to an apiserver. Its file form
// (written by `wask up` as <data-dir>/admin.yaml) is YAML:
//
//	server: https://127.0.0.1:7070
//	ca: /path/to/ca.crt
//	token: <bearer token>
type Config struct {
	// Server is the apiserver's URL. An http:// URL speaks HTTP/2 without
	// TLS (h2c), for servers started to allow it.
	Server string `yaml:"server"`
	// CA is the path of the PEM certificate of the cluster CA; relative
	// paths in a file are relative to the file's folder. Empty: the
	// system's roots.
	CA string `yaml:"ca"`
	// CAData is the PEM certificate itself; it takes precedence over CA.
	CAData []byte `yaml:"-"`
	// Token is the bearer token sent with every request.
	Token string `yaml:"token"`
	// NodeName, for a node's client, is sent in the Wask-Node-Name header:
	// with the node join token it says which node is calling.
	NodeName string `yaml:"nodeName,omitempty"`
}

// EnvConfig is the environment variable naming a client config file.
const EnvConfig = "WASK_CONFIG"

// LoadConfig reads a client config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("client config: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytesReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("client config %s: %w", path, err)
	}
	if cfg.Server == "" {
		return Config{}, fmt.Errorf("client config %s: server: required", path)
	}
	if cfg.CA != "" && !filepath.IsAbs(cfg.CA) {
		cfg.CA = filepath.Join(filepath.Dir(path), cfg.CA)
	}
	return cfg, nil
}

// WriteConfig writes cfg to path with mode 0600 (it holds a token).
func WriteConfig(path string, cfg Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DefaultConfigPath is where `wask up` writes the user's client config and
// where commands look when neither --config nor $WASK_CONFIG names one:
// $XDG_CONFIG_HOME/wask/config.yaml (~/.config/wask/config.yaml).
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", errors.New("client config: no user config directory: set $WASK_CONFIG or --config")
	}
	return filepath.Join(dir, "wask", "config.yaml"), nil
}
