"""Claims are parsed from their YAML with errors naming the nearest valid name; files are loaded
and claims selected by id."""

import pytest
import yaml
from claim_fixtures import CLAIM

from reglab._core.registry import UnknownNameError
from reglab.bench.claims import load_claims, parse_claim, select_claims


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"task": "digitz"}, UnknownNameError, "did you mean 'digits'"),
        ({"arms": {"a": "l22"}}, UnknownNameError, "unknown recipe 'l22'"),
        ({"statment": "x"}, ValueError, "unknown key 'statment' \\(did you mean 'statement'"),
        ({"checks": []}, ValueError, "needs at least one check"),
        ({"quick": {"seed": 1}}, ValueError, "unknown key 'seed' \\(did you mean 'seeds'"),
        ({"budget": {"steps": 0}}, ValueError, "steps must be >= 1"),
    ],
)
def test_bad_claims_are_refused_with_the_nearest_names(change, error, message):
    with pytest.raises(error, match=message):
        parse_claim({**CLAIM, **change}, "x")


def test_claims_file_selection_and_duplicates(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [CLAIM, {**CLAIM, "id": "other"}]}))
    claims = load_claims(path)
    assert [c.id for c in select_claims(claims, ["other"])] == ["other"]
    with pytest.raises(UnknownNameError, match="unknown claim 'toyy' \\(did you mean 'toy'"):
        select_claims(claims, ["toyy"])
    path.write_text(yaml.safe_dump({"claims": [CLAIM, CLAIM]}))
    with pytest.raises(ValueError, match="duplicate claim ids"):
        load_claims(path)
