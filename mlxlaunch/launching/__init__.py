"""Preparing a launch: argv, settings, presets, composition, checks, help, dry run, run folders."""
