// Command composecheck loads a Compose file the way `docker compose` does, with compose-go
// (the loader inside Docker Compose): schema validation, merge keys, variable interpolation
// from this process's environment, profiles, relative paths resolved. It prints the loaded
// project as JSON, or the loader's error on stderr with exit status 1.
//
// tests/examples/test_compose_loader.py builds and runs it, because no container runtime is
// available where examples/deploy is developed:
//
//	go run . ../../../examples/deploy/compose.yaml [PROFILE...]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck COMPOSE_FILE [PROFILE...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(file string, profiles []string) error {
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithEnv(os.Environ()),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
