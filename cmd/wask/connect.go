package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"connectrpc.com/connect"

	"github.com/wask-dev/wask/client"
)

// dial reads the client config (--config, $WASK_CONFIG, then the default
// path) and connects.
func (e *env) dial() (*client.Client, error) {
	path := e.configPath
	if path == "" {
		path = os.Getenv(client.EnvConfig)
	}
	if path == "" {
		p, err := client.DefaultConfigPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	cfg, err := client.LoadConfig(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no client config at %s: start a cluster with `wask up`, or pass --config or set $%s", path, client.EnvConfig)
	}
	if err != nil {
		return nil, err
	}
	return client.New(cfg)
}

// explain turns an RPC error into a message that says what to check.
func explain(c *client.Client, err error) error {
	if err == nil {
		return nil
	}
	var netErr *net.OpError
	if connect.CodeOf(err) == connect.CodeUnavailable || errors.As(err, &netErr) {
		return fmt.Errorf("cannot reach the apiserver at %s: %v\n(is the cluster running? check the config's server address)", c.Server(), connectMessage(err))
	}
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		return fmt.Errorf("the apiserver at %s refused the credentials: %v (check the config's token)", c.Server(), connectMessage(err))
	}
	return errors.New(connectMessage(err))
}

func connectMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
