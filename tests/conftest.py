"""Shared test fixtures: the repo root, the shared data folder, a CLI runner."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEAWALL_SHARED", REPO.parent / "shared"))
CACHE = REPO / ".cache"
_CPU_START = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def run_cli(*args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m seawall ARGS` as a user would, capturing text output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "seawall", *args], capture_output=True,
                          text=True, env=full_env, input=input.decode() if input else None,
                          timeout=timeout, check=False)


@pytest.fixture()
def cli():
    return run_cli


# Tests that build images from Debian/PyPI packages or a Go toolchain, or that start a registry
# or other server processes, are marked so that `make test-fast` can leave them out: by their
# fixtures here (one place), or explicitly with @pytest.mark.slow / toolchain / network.
TOOLCHAIN_FIXTURES = {"demo", "demo_oci_sbom", "demo_rootfs", "demo_scan", "demo_db", "cat_cache",
                      "dep_parser_testdata"}
NETWORK_FIXTURES = {"registry"}

# Tests of the quick lane that took more than one CPU-second each (the test process and the
# processes it waited for; every parameter of a test when one of them did), measured over the
# whole lane with `make unit-fast` on the 2-core machine: `slow`, so that `make test-fast` stays
# within two minutes. A whole file, or file::test (all its parameters). `make test` runs them.
SLOW_TESTS = frozenset({
    "tests/analyzers/test_contract.py::test_damaged_snapshot_is_an_input_error",
    "tests/analyzers/test_contract.py::test_detect_stream_equals_one_shot_and_survives_a_snapshot",
    "tests/analyzers/test_contract.py::test_finding_round_trips_through_its_report_form",
    "tests/catalog/test_limits.py::test_big_status_file_end_to_end_memory",
    "tests/catalog/test_limits.py::test_many_stanzas_in_bounded_memory",
    "tests/catalog/test_limits.py::test_sbom_shows_cataloger_skips",
    "tests/checks/test_suppressions.py::test_detect_suppresses_and_expired_entries_warn",
    "tests/checks/test_suppressions.py::test_netmap_leaves_suppressed_findings_off_the_map",
    "tests/detect/test_allowlists.py::test_organization_shares_are_info_and_outside_shares_high",
    "tests/detect/test_allowlists.py::test_pulls_from_the_organizations_networks_are_not_new_networks",
    "tests/detect/test_allowlists.py::test_system_workload_quiets_its_pods_and_not_the_near_misses",
    "tests/detect/test_benign_days.py::test_container_logs_day_is_quiet",
    "tests/detect/test_benign_days.py::test_ecs_day_is_quiet",
    "tests/detect/test_benign_days.py::test_ecs_day_without_the_organization_keeps_the_shares_visible",
    "tests/detect/test_benign_days.py::test_eks_day_has_no_high_and_only_the_mediums_an_analyst_wants",
    "tests/detect/test_benign_days.py::test_eks_day_what_the_allowlists_quiet_is_shown_once_per_entry",
    "tests/detect/test_benign_days.py::test_eks_day_without_the_operator_context_names_the_people_once",
    "tests/detect/test_follow_interrupt.py",
    "tests/detect/test_input_defects.py",
    "tests/detect/test_parallel.py::test_a_failing_worker_is_one_clear_error",
    "tests/detect/test_parallel.py::test_cli_workers_option",
    "tests/detect/test_parallel.py::test_long_lines_are_skipped_alike_and_memory_stays_bounded",
    "tests/detect/test_parallel.py::test_no_interpreter_for_workers_reads_in_one_process",
    "tests/detect/test_parallel.py::test_other_sources_alike_with_workers",
    "tests/detect/test_parallel.py::test_workers_give_the_same_findings_and_counters",
    "tests/detect/test_parallel.py::test_workers_keep_first_seen_state_like_one_process",
    "tests/detect/test_prefilter.py::test_prefilter_keeps_every_finding_on_disguised_events",
    "tests/detect/test_redaction.py::test_no_secret_in_any_output_of_any_source",
    "tests/detect/test_scenario.py",
    "tests/detect/test_sources_and_input.py::test_attacker_strings_are_escaped_in_the_table",
    "tests/detect/test_sources_and_input.py::test_broken_and_unsupported_sigma_rules_are_reported",
    "tests/detect/test_sources_and_input.py::test_cloudtrail_records_file_and_json_lines",
    "tests/detect/test_sources_and_input.py::test_container_logs_cri_docker_and_awslogs",
    "tests/detect/test_sources_and_input.py::test_falco_and_tetragon_samples",
    "tests/detect/test_sources_and_input.py::test_first_seen_state_persists_across_runs",
    "tests/detect/test_sources_and_input.py::test_follow_streams_jsonl_as_findings_occur",
    "tests/detect/test_sources_and_input.py::test_garbage_alone_is_exit_2_with_one_line",
    "tests/detect/test_sources_and_input.py::test_hostile_lines_are_counted_and_the_rest_goes_on",
    "tests/detect/test_sources_and_input.py::test_k8s_audit_eventlist_and_cloudwatch_export",
    "tests/detect/test_sources_and_input.py::test_k8s_audit_sample_gzip_log_backend",
    "tests/detect/test_sources_and_input.py::test_learning_period_of_the_first_seen_rules",
    "tests/detect/test_sources_and_input.py::test_native_rule_file_with_threshold",
    "tests/detect/test_sources_and_input.py::test_ocsf_and_fail_on",
    "tests/detect/test_sources_and_input.py::test_sigma_rules_all_accounted_for",
    "tests/detect/test_sources_and_input.py::test_truncated_big_gzip_keeps_every_line_before_the_damage",
    "tests/detect/test_sources_and_input.py::test_truncated_gzip_keeps_what_was_read",
    "tests/export/test_securitylake.py",
    "tests/fuzz/test_fuzz_found.py",
    "tests/image/test_hostile.py::test_hostile_layer_is_refused",
    "tests/network/test_benign.py::test_a_benign_day_raises_no_high_or_critical",
    "tests/network/test_benign.py::test_learning_period_quiet_day_then_new_destinations_and_periodic_connections",
    "tests/network/test_benign.py::test_near_miss_a_beacon_to_an_unknown_address_is_still_found",
    "tests/network/test_benign.py::test_near_miss_a_pod_named_metrics_server_in_another_namespace_is_lateral_movement",
    "tests/network/test_benign.py::test_with_aws_ranges_as_context_the_day_is_quiet",
    "tests/network/test_engine_paths.py::test_high_cardinality_traffic",
    "tests/network/test_hostile.py::test_a_fully_truncated_gzip_log_alone_is_exit_2_with_one_line",
    "tests/network/test_hostile.py::test_a_truncated_gzip_log_is_a_warning_and_its_records_before_the_cut_count",
    "tests/network/test_hostile.py::test_an_invalid_utf8_record_is_counted_and_the_good_files_keep_their_findings",
    "tests/network/test_hostile.py::test_secrets_in_names_seen_on_the_wire_are_redacted",
    "tests/network/test_hostile.py::test_terminal_escapes_never_reach_dot_output",
    "tests/network/test_netmap_cli.py::test_bad_input_is_one_line_exit_2",
    "tests/network/test_netmap_cli.py::test_context_known_cidrs_and_bad_context_files",
    "tests/network/test_netmap_cli.py::test_garbage_and_empty_inputs_never_traceback",
    "tests/network/test_scenario.py::test_clean_day_has_no_findings",
    "tests/network/test_scenario.py::test_story_findings_are_exactly_on_the_compromised_workload",
    "tests/network/test_vpcflow.py::test_a_plain_log_read_in_small_chunks_is_the_gzip_log_read_whole",
    "tests/posture/test_cli_and_input.py::test_fail_on_and_severity_filter",
    "tests/posture/test_cli_and_input.py::test_list_checks_as_json",
    "tests/posture/test_cli_and_input.py::test_nothing_readable_is_exit_2_with_one_line",
    "tests/posture/test_host.py::test_symlinks_are_judged_by_what_they_lead_to_inside_the_root",
    "tests/posture/test_large_input.py",
    "tests/respond/test_hostile_input.py::test_mutated_aws_cli_json_never_crashes",
    "tests/respond/test_hostile_input.py::test_mutated_kubectl_dumps_never_crash",
    "tests/respond/test_hostile_input.py::test_oversized_and_non_json_inputs",
    "tests/respond/test_k8s_plan.py::test_a_finding_id_resolves_to_its_pod",
    "tests/respond/test_k8s_plan.py::test_scope_refuses_outside_namespaces_and_labels",
    "tests/runtime/test_inventory.py",
    "tests/runtime/test_kubernetes_api.py",
    "tests/runtime/test_rescan_cache.py",
    "tests/scan/test_hidden_secrets.py::test_package_kept_when_not_deleted",
    "tests/scan/test_history_redaction.py::test_sbom_cyclonedx_carries_the_redacted_line",
    "tests/scan/test_image_labels.py::test_a_secret_in_a_label_is_redacted",
    "tests/test_cli_basics.py::test_on_off_flags_take_no_value_in_help",
    "tests/test_cli_basics.py::test_table_is_linear_and_not_slower_than_json",
    "tests/vulndb/test_cpe.py::test_shipped_data_matches_binaries_offline",
    "tests/vulndb/test_hostile_and_cli.py",
    "tests/vulndb/test_importers.py::test_schema_rows_and_index",
    "tests/vulndb/test_skips.py::test_go_main_module_without_a_version",
    "tests/vulndb/test_skips.py::test_scan_reports_skips_in_every_format",
    "tests/vulndb/test_vex.py::test_fail_on_kev_gates_the_exit_code",
    "tests/vulndb/test_vex.py::test_scan_with_vex_drops_and_counts",
})


SLOW_CPU_SECONDS = 1.0


def _cpu_seconds() -> float:
    """CPU time of this process and of the processes it waited for (a CLI run, a worker)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _is_slow(nodeid: str) -> bool:
    test = nodeid.split("[", 1)[0]
    return test in SLOW_TESTS or test.split("::", 1)[0] in SLOW_TESTS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)
        names = set(getattr(item, "fixturenames", ()))
        if names & TOOLCHAIN_FIXTURES:
            item.add_marker(pytest.mark.toolchain)
        if names & NETWORK_FIXTURES:
            item.add_marker(pytest.mark.network)


# The quick lane keeps itself honest: each test's CPU time (setup to teardown) travels with its
# report (also from pytest-xdist workers), and a run that leaves out `slow` names the tests over
# SLOW_CPU_SECONDS that are not marked yet, so that they go into SLOW_TESTS.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    item.stash[_CPU_START] = _cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    if call.when == "teardown" and _CPU_START in item.stash:
        outcome.get_result().user_properties.append(("cpu_seconds", _cpu_seconds() - item.stash[_CPU_START]))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if "not slow" not in (config.getoption("markexpr", "") or ""):
        return
    heavy = []
    for report in (r for reports in terminalreporter.stats.values() for r in reports):
        if getattr(report, "when", "") != "teardown":
            continue
        cpu = dict(report.user_properties).get("cpu_seconds", 0.0)
        if cpu > SLOW_CPU_SECONDS and not _is_slow(report.nodeid):
            heavy.append((cpu, report.nodeid))
    if heavy:
        terminalreporter.section("tests over a CPU-second in the quick lane: add them to SLOW_TESTS")
        for cpu, nodeid in sorted(heavy, reverse=True):
            terminalreporter.write_line(f"{cpu:6.1f} CPU-s  {nodeid}")
