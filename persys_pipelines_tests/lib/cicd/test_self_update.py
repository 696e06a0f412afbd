"""persys's own checkout (a real git repository) after a crash between the pull and the
reload: the next update validates and reloads the commit it finds instead of calling it
unchanged, and a broken commit pulled before a crash is rolled back to the last good one."""

from __future__ import annotations

import pytest

from persys_pipelines.lib.cicd import self_update
from persys_pipelines_tests.cicd_fakes import commit, git, make_repositories, project_source
from persys_pipelines_tests.deploy_fakes import free_port


@pytest.mark.slow
def test_an_interrupted_update_is_finished_or_rolled_back_next_time(tmp_path):
    origin, dev, checkout = make_repositories(tmp_path)
    nowhere = f"http://127.0.0.1:{free_port()}/graphql"  # no webserver: reloads fail, said

    first = self_update.update(checkout, "origin", "main", nowhere, ["tinyproj"])
    assert first.status == "reload failed" and "did not answer" in first.detail

    good = commit(dev, project_source("first", "second"), "second")
    git(checkout, "pull", "-q", "--ff-only", "origin", "main")  # pulled, then killed
    again = self_update.update(checkout, "origin", "main", nowhere, ["tinyproj"])
    assert (again.status, again.new) == ("reload failed", good)  # validated, not "unchanged"
    assert self_update.update(checkout, "origin", "main", nowhere, ["x"]).status == "unchanged"

    commit(dev, project_source("first", broken=True), "broken")
    git(checkout, "pull", "-q", "--ff-only", "origin", "main")  # pulled, then killed
    back = self_update.update(checkout, "origin", "main", nowhere, ["tinyproj"])
    assert back.status == "rolled back" and back.old == good
    assert git(checkout, "rev-parse", "HEAD") == good

    (checkout / "defs.py").write_text("# edited by hand\n")
    refused = self_update.update(checkout, "origin", "main", nowhere, ["tinyproj"])
    assert refused.status == "refused" and "local changes" in refused.detail
    assert (checkout / "defs.py").read_text() == "# edited by hand\n"  # left as it was
