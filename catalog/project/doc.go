// Package project reads project directories and archives: it packs a
// directory (project.yaml, packages/*.yaml and any files the packages use)
// into a deterministic tar.gz archive, unpacks one safely, and validates a
// project's manifest and every package in it.
//
// It imports only catalog/pkgspec and the standard library, so the CLI (to
// validate before uploading) and the worker (to unpack) can use it without
// the catalog store.
package project
