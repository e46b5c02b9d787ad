"""A really full disk: `runtask` fails clearly and leaves no rows lost, no partial file.

Each run gets a private mount namespace (`unshare`) with a tmpfs of a few
kilobytes over the target directory, so the task's writes hit a real ENOSPC
from the kernel while the database lives on the normal disk. The directory
is listed inside the same namespace after the task, since the tmpfs goes
away with it.
"""

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from chirpsyncer.models import AuditLog, ErrorLog
from chirpsyncer.tests.factories import AuditLogFactory, ErrorLogFactory
from maintenance.models import AuditArchive
from maintenance.tests.test_archive import database_url
from scheduling.models import ExecutionStatus, TaskExecution

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

# Mount a tmpfs of $1 bytes on $2, run the rest, then list $2 after a marker line.
ON_A_TINY_DISK = (
    'mount -t tmpfs -o "size=$1" tmpfs "$2" || exit 99; dir="$2"; shift 2; "$@"; status=$?; '
    'echo "--- left in $dir:"; ls -A "$dir"; exit $status'
)
TINY = 48 * 1024


def run_on_a_tiny_disk(directory: Path, *argv: str, **env: str) -> tuple[int, str, list[str]]:
    """`manage.py argv` with `directory` on a tiny tmpfs: (exit code, output, files left)."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [shutil.which("unshare") or "unshare", "--map-root-user", "--mount"]
    command += ["sh", "-c", ON_A_TINY_DISK, "sh", str(TINY), str(directory)]
    command += [sys.executable, "manage.py", *argv]
    done = subprocess.run(
        command,
        env={**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode != 99, f"could not mount a tmpfs: {done.stderr}"
    output, _, listing = done.stdout.rpartition(f"--- left in {directory}:\n")
    return done.returncode, output + done.stderr, listing.split()


def test_an_archive_run_on_a_full_disk_fails_clearly_and_deletes_nothing(tmp_path):
    call_command("syncdefaulttasks", verbosity=0)
    old = datetime.now(UTC) - timedelta(days=200)
    for _ in range(120):  # ~150 KB of random text: three times what the disk holds
        AuditLogFactory(created_at=old, user_agent=os.urandom(600).hex())
    archive_dir = tmp_path / "archive"

    code, output, left = run_on_a_tiny_disk(
        archive_dir, "runtask", "archive_audit_logs", ARCHIVE_DIR=str(archive_dir)
    )

    assert code == 1, output
    assert "disk is full" in output
    assert left == [".lock"]  # the run lock only: the partial file was removed
    assert AuditLog.objects.exclude(resource_type="task").count() == 120  # syncdefaulttasks audits
    assert not AuditArchive.objects.exists()
    execution = TaskExecution.objects.get(task__name="archive_audit_logs")
    assert execution.status == ExecutionStatus.FAILED
    assert "disk is full" in execution.error


def test_a_backup_on_a_full_disk_fails_clearly_and_leaves_no_partial_file(tmp_path):
    call_command("syncdefaulttasks", verbosity=0)
    for _ in range(100):  # a database (or dump) larger than the disk
        ErrorLogFactory(message=os.urandom(600).hex())
    backup_dir = tmp_path / "backups"

    code, output, left = run_on_a_tiny_disk(
        backup_dir, "runtask", "backup_database", BACKUP_DIR=str(backup_dir)
    )

    assert code == 1, output
    assert "disk is full" in output or "No space left on device" in output
    assert left == [".lock"]  # the run lock only
    assert ErrorLog.objects.count() == 100
    execution = TaskExecution.objects.get(task__name="backup_database")
    assert execution.status == ExecutionStatus.FAILED
