"""
Recipient resolution through --catalog (spec section 5): users as
written, group members and child groups, owners, excludeEntityRef at every
level, and the order of the answer.  The expected orders for the first
eight entities of data/read-catalog.yaml are what the reference backend
answered with the same entities loaded in its catalog.
"""

import pytest

from conftest import finish_server, run_expect_exit
from read_helpers import (ALICE_TOKEN, BOB_TOKEN, CATALOG, fresh, listing,
                          post_json, send, start, titles, to)

GUEST = "user:default/guest"
ALICE = "user:default/alice"
BOB = "user:default/bob"


@pytest.fixture(scope="module")
def srv():
    s = start(["--catalog", CATALOG])
    yield s
    finish_server(s)


def users(srv, refs, exclude=None, title="t"):
    return [e["user"] for e in send(srv, to(refs, title, exclude))]


@pytest.mark.parametrize("refs,exclude,want", [
    # users as written, duplicates dropped, non-users expanded after them
    (["component:default/order-service", GUEST, ALICE, GUEST], None,
     [GUEST, ALICE]),
    ("group:default/team-a", None, [ALICE, GUEST]),
    # first-round members, then owners: a user owner before a group's
    (["component:default/order-service", "component:default/billing",
      "component:default/missing"], None, [BOB, ALICE, GUEST]),
    # a child group's members (platform -> team-b -> bob)
    ("group:default/platform", None, [BOB]),
    (["group:default/team-a", ALICE], ALICE, [GUEST]),
    # an excluded owner is not expanded
    (["component:default/order-service"], ["group:default/team-a"], []),
    (["component:default/billing"], BOB, []),
    # unknown refs are skipped silently
    ("component:default/nothere", None, []),
    ("not a ref::", None, []),
])
def test_reference_orders(srv, refs, exclude, want):
    assert users(srv, refs, exclude) == want


@pytest.mark.parametrize("refs,exclude,want", [
    # the catalog lower-cases what it looks up, but fills in nothing
    ("GROUP:Default/Team-A", None, [ALICE, GUEST]),
    ("group:team-a", None, []),
    # exclusions compare exactly, at every level
    ("group:default/team-a", "Group:default/team-a", [ALICE, GUEST]),
    ("group:default/team-a", "user:Default/alice", [ALICE, GUEST]),
    # user refs are recipients as written: three distinct users here
    (["user:alice", "User:default/Alice", ALICE], None,
     ["user:alice", "User:default/Alice", ALICE]),
    # spec.members of a group, lower-cased; a parent cycle ends
    ("group:default/ops", None, ["user:default/carol", "user:default/zed"]),
    ("group:default/sre", None, ["user:default/carol", "user:default/zed"]),
    # an owner in another namespace, named in full
    ("api:shop/payments", None, ["user:default/carol", "user:default/zed"]),
    # a user entity named as such is still taken as written
    ("user:default/GUEST", None, ["user:default/GUEST"]),
])
def test_more_resolution(srv, refs, exclude, want):
    assert users(srv, refs, exclude) == want


def test_group_send_reaches_each_member(srv):
    send(srv, to("group:default/team-a", "team news"))
    assert "team news" in titles(listing(srv, token=ALICE_TOKEN))
    assert "team news" not in titles(listing(srv, token=BOB_TOKEN))


def test_without_catalog_non_users_reach_nobody(fresh):
    s = fresh()
    assert users(s, ["group:default/team-a", "component:default/billing",
                     ALICE]) == [ALICE]
    assert users(s, "group:default/team-a") == []


def test_opted_out_member_is_skipped(fresh):
    s = fresh(["--catalog", CATALOG])
    send(s, to(ALICE, "seed", topic="deploys"))
    post_json(s, "/settings", {"channels": [{"id": "Web", "origins": [
        {"id": "argocd-notifications", "enabled": True,
         "topics": [{"id": "deploys", "enabled": False}]}]}]})
    assert users(s, "component:default/order-service", title="deploy") == \
        [ALICE, GUEST]
    got = send(s, to("component:default/order-service", "d2",
                     topic="deploys"))
    assert [e["user"] for e in got] == [GUEST]


def test_catalog_errors_stop_start_up(tmp_path):
    code, err = run_expect_exit(["--catalog", str(tmp_path / "nope.yaml")])
    assert code != 0 and "nope.yaml" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: User\nmetadata: {name: [x\n")
    code, err = run_expect_exit(["--catalog", str(bad)])
    assert code != 0 and "bad.yaml" in err
    # -n checks the catalog too
    code, err = run_expect_exit(["-n", "--catalog", str(bad)])
    assert code != 0 and "bad.yaml" in err


def test_location_entities_are_followed(fresh, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "people.yaml").write_text(
        "kind: User\nmetadata: {name: dora}\nspec: {memberOf: [crew]}\n"
        "---\nkind: Group\nmetadata: {name: crew}\nspec: {type: team}\n")
    (tmp_path / "all.yaml").write_text(
        "kind: Location\nmetadata: {name: all}\n"
        "spec: {targets: [./sub/people.yaml]}\n")
    s = fresh(["--catalog", str(tmp_path / "all.yaml")])
    assert users(s, "group:default/crew") == ["user:default/dora"]
    assert "catalog: 3 entities" in s.log()
