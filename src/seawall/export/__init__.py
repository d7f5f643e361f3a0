"""Exports of findings to where AWS shops centralise them (Security Lake; Security Hub in the
service). Each exporter is a small module; they read findings, never analyzers."""
