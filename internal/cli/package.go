package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func newPackageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "package",
		Short: "Author AFPS packages: init, validate, pack",
		Long: "Author AFPS packages (agents, skills, tools, providers) locally.\n" +
			"  init      write a minimal valid package to a folder\n" +
			"  validate  check a package folder, .afps archive or .afps-bundle\n" +
			"  pack      validate a folder and write its deterministic .afps archive",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPackageInitCmd(), newPackageValidateCmd(), newPackagePackCmd())
	return cmd
}

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitConfig, Err: fmt.Errorf(format, args...)}
}

func newPackageValidateCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate <dir|file.afps|file.afps-bundle>",
		Short: "Validate a package folder, a .afps archive or a .afps-bundle",
		Long: "Validate a package and print every problem as \"<path>: <message>\" (exit 1), or \"valid\" (exit 0).\n" +
			"A file is read as a bundle when it contains bundle.json, else as a single .afps package.\n" +
			"--strict applies the AFPS spec as written (agents must declare an author), as on publish.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return validatePath(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], afps.ValidateOptions{Strict: strict})
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "apply the strict AFPS rules used on publish")
	return cmd
}

func validatePath(stdout, stderr io.Writer, target string, opts afps.ValidateOptions) error {
	info, err := os.Stat(target)
	if err != nil {
		return usageError("%v", err)
	}
	var issues []afps.Issue
	var summary string
	switch {
	case info.IsDir():
		files, err := afps.LoadDir(os.DirFS(target))
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		p, err := afps.LoadPackage(files, opts)
		if err != nil {
			issues, err = issuesOf(err)
			if err != nil {
				return err
			}
		} else {
			summary = describe(p.Manifest, len(p.Files))
		}
	default:
		data, err := os.ReadFile(target)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		if afps.LooksLikeBundle(data) {
			issues, summary, err = validateBundle(data, opts)
		} else {
			issues, summary, err = validateArchive(stderr, data, opts)
		}
		if err != nil {
			return err
		}
	}
	if len(issues) > 0 {
		for _, is := range issues {
			fmt.Fprintln(stdout, is.String())
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not a valid package: %d problem(s)", target, len(issues))}
	}
	_, err = fmt.Fprintln(stdout, "valid: "+summary)
	return err
}

// issuesOf turns a package error into printable issues; an archive-level error becomes one issue with its code.
func issuesOf(err error) ([]afps.Issue, error) {
	var ve *afps.ValidationError
	if errors.As(err, &ve) {
		return ve.Issues, nil
	}
	var ae *afps.Error
	if errors.As(err, &ae) {
		return []afps.Issue{{Path: string(ae.Code), Code: ae.Code, Message: strings.TrimPrefix(ae.Error(), string(ae.Code)+": ")}}, nil
	}
	return nil, &ExitError{Code: ExitFailure, Err: err}
}

func validateArchive(stderr io.Writer, data []byte, opts afps.ValidateOptions) ([]afps.Issue, string, error) {
	p, err := afps.ReadPackage(data, opts)
	if err != nil {
		issues, err := issuesOf(err)
		return issues, "", err
	}
	for _, d := range p.Dropped {
		fmt.Fprintf(stderr, "warning: ignored archive entry %s\n", d)
	}
	return nil, describe(p.Manifest, len(p.Files)) + ", integrity " + afps.SRI(data), nil
}

func validateBundle(data []byte, opts afps.ValidateOptions) ([]afps.Issue, string, error) {
	b, err := afps.ReadBundle(data, afps.BundleLimits)
	if err != nil {
		issues, err := issuesOf(err)
		return issues, "", err
	}
	var all []afps.Issue
	for _, id := range b.Identities() {
		if _, err := b.Packages[id].Package(opts); err != nil {
			issues, err := issuesOf(err)
			if err != nil {
				return nil, "", err
			}
			for _, is := range issues {
				is.Path = strings.TrimSuffix(id+"/"+is.Path, "/")
				all = append(all, is)
			}
		}
	}
	return all, fmt.Sprintf("bundle %s with %d package(s), integrity %s", b.Root, len(b.Packages), b.Integrity), nil
}

func describe(m *afps.Manifest, files int) string {
	return fmt.Sprintf("%s (%s, %d files)", m.Identity(), m.Type, files)
}

func newPackagePackCmd() *cobra.Command {
	var out string
	var strict bool
	cmd := &cobra.Command{
		Use:   "pack <dir>",
		Short: "Validate a package folder and write its deterministic .afps",
		Long: "Validate a package folder and write it as a .afps archive: entries sorted, fixed timestamps and\n" +
			"permissions, deflate level 6, so the same files always give the same bytes and integrity.\n" +
			"Prints the output path, then its integrity (sha256-…). The default output is\n" +
			"<scope>-<name>-<version>.afps in the current directory. VCS folders, node_modules, __MACOSX,\n" +
			".DS_Store and archives at the folder root are not packed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := os.Stat(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			if !info.IsDir() {
				return usageError("%s is not a folder", args[0])
			}
			files, err := afps.LoadDir(os.DirFS(args[0]))
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			data, integrity, err := afps.Pack(files, afps.ValidateOptions{Strict: strict})
			if err != nil {
				if issues, ierr := issuesOf(err); ierr == nil {
					for _, is := range issues {
						fmt.Fprintln(cmd.OutOrStdout(), is.String())
					}
				}
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not a valid package", args[0])}
			}
			// What we write must also be accepted by a server.
			if _, err := afps.ReadArchive(data, afps.PackageLimits); err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if out == "" {
				m, _ := afps.ParseManifest(files[afps.ManifestFile])
				out = afps.ArchiveName(m.Name, m.Version)
			}
			if err := writeFileAtomic(out, data); err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", out, integrity)
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default <scope>-<name>-<version>.afps)")
	cmd.Flags().BoolVar(&strict, "strict", false, "apply the strict AFPS rules used on publish")
	return cmd
}

// writeFileAtomic writes data next to path then renames it into place.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".afps-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
