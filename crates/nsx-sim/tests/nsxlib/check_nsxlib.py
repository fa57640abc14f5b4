#!/usr/bin/env python3
"""Drives NSX's published Python client, vmware-nsxlib, against an NSX Manager.

Run by crates/nsx-sim/tests/nsxlib.rs against the simulator; it only uses nsxlib's own API
(NsxPolicyLib and its resource APIs, H-API transactions, the realization helpers), plus
nsxlib's REST client for the one call nsxlib has no helper for (a security policy's
container-cluster span). Every check prints one line; the last line is "N passed, M failed"
and the exit status is non-zero when a check failed.

Arguments: --manager HOST:PORT --username U --password P --ca-file PEM --cluster-path PATH
(the ClusterControlPlane path of a registered cluster whose CCP adapter realizes what it
receives; groups whose description starts with "unrealizable" fail realization).
"""

import argparse
import logging
import sys
import time
import traceback
import warnings

warnings.simplefilter("ignore")  # eventlet and distutils deprecation noise

from vmware_nsxlib.v3 import config  # noqa: E402
from vmware_nsxlib.v3 import exceptions as nsx_exc  # noqa: E402
from vmware_nsxlib.v3 import nsx_constants  # noqa: E402
from vmware_nsxlib.v3 import policy  # noqa: E402
from vmware_nsxlib.v3.policy import constants as pol_const  # noqa: E402
from vmware_nsxlib.v3.policy import core_defs  # noqa: E402
from vmware_nsxlib.v3.policy import transaction as trans  # noqa: E402

DOMAIN = "default"
GROUP_PREFIX = "/infra/domains/default/groups/"
SERVICE_PREFIX = "/infra/services/"
# Enough groups for three pages at NSX's default page size of 1000.
MANY_GROUPS = 2500
# Realization polling: short waits, bounded attempts.
WAIT = dict(sleep=0.05, max_attempts=60)


class Checks:
    """Runs named checks, printing PASS/FAIL lines, and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, func):
        started = time.monotonic()
        try:
            func()
        except Exception as error:  # noqa: BLE001 (any failure is a failed check)
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(error).__name__, error))
            for line in traceback.format_exc().rstrip().splitlines()[-12:]:
                print("    " + line)
        else:
            self.passed += 1
            print("PASS %s (%.2fs)" % (name, time.monotonic() - started))
        sys.stdout.flush()


def expect(condition, message, *args):
    if not condition:
        raise AssertionError(message % args if args else message)


def expect_eq(actual, expected, what):
    expect(actual == expected, "%s: expected %r, got %r", what, expected, actual)


def expect_raises(exc_class, func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except exc_class as error:
        return error
    raise AssertionError("%s was not raised" % exc_class.__name__)


class Scenario:
    """The checks, sharing one NsxPolicyLib."""

    def __init__(self, args):
        self.args = args
        self.lib = None
        self.api = None

    # --- connection -----------------------------------------------------------------------

    def connect(self):
        nsxlib_config = config.NsxLibConfig(
            nsx_api_managers=[self.args.manager],
            username=self.args.username,
            password=self.args.password,
            ca_file=self.args.ca_file,
            insecure=False,
            # The Manager API passthrough is how nsxlib learns the NSX version (GET
            # /api/v1/node); without it nsxlib assumes 2.4.0 and disables partial PATCH.
            allow_passthrough=True,
            http_timeout=10,
            http_read_timeout=60,
            max_attempts=3,
            realization_wait_sec=0.05,
            realization_max_attempts=60,
        )
        self.lib = policy.NsxPolicyLib(nsxlib_config)
        self.api = self.lib.policy_api
        version = self.lib.get_version()
        expect(version.startswith("4.2."), "NSX version %r", version)
        expect(self.lib.feature_supported(nsx_constants.FEATURE_PARTIAL_UPDATES),
               "partial updates not supported")
        expect(self.api.partial_updates_supported(), "partial PATCH disabled")
        expect(self.lib.nsx_api.get_version() == version, "passthrough version differs")

    def domains(self):
        domain = self.lib.domain.get(DOMAIN)
        expect_eq(domain["id"], DOMAIN, "domain id")
        expect_eq(domain["path"], "/infra/domains/default", "domain path")
        ids = [d["id"] for d in self.lib.domain.list()]
        expect(DOMAIN in ids, "default domain not listed: %r", ids)

    # --- groups -------------------------------------------------------------------------------

    def groups_with_a_condition(self):
        group = self.lib.group
        gid = group.create_or_overwrite(
            "web servers", DOMAIN, group_id="web",
            description="web tier", cond_val="tier|web",
            cond_member_type=pol_const.CONDITION_MEMBER_VM,
            tags=[{"scope": "owner", "tag": "nsxlib"}])
        expect_eq(gid, "web", "returned id")
        body = group.get(DOMAIN, "web")
        expect_eq(body["display_name"], "web servers", "display_name")
        expect_eq(body["path"], GROUP_PREFIX + "web", "path")
        expect_eq(body["_revision"], 0, "_revision")
        expect_eq(body["tags"], [{"scope": "owner", "tag": "nsxlib"}], "tags")
        [condition] = body["expression"]
        for key, value in (("resource_type", "Condition"), ("member_type", "VirtualMachine"),
                           ("key", "Tag"), ("operator", "EQUALS"), ("value", "tier|web")):
            expect_eq(condition[key], value, "condition " + key)
        # nsxlib's default member type (LogicalPort) and a group without conditions.
        group.create_or_overwrite("db", DOMAIN, group_id="db", cond_val="tier|db")
        expect_eq(group.get(DOMAIN, "db")["expression"][0]["member_type"], "LogicalPort",
                  "default member type")
        group.create_or_overwrite("empty", DOMAIN, group_id="empty")
        expect_eq(group.get(DOMAIN, "empty")["expression"], [], "empty expression")
        random_id = group.create_or_overwrite("no id given", DOMAIN)
        expect_eq(group.get(DOMAIN, random_id)["id"], random_id, "generated id")

    def groups_with_nested_and_union_conditions(self):
        group = self.lib.group
        vm = pol_const.CONDITION_MEMBER_VM
        tag = group.build_condition(cond_val="app|shop", cond_member_type=vm)
        name = group.build_condition(cond_val="shop-", cond_key=pol_const.CONDITION_KEY_NAME,
                                     cond_op=pol_const.CONDITION_OP_STARTS_WITH,
                                     cond_member_type=vm)
        not_env = group.build_condition(cond_val="env|test", cond_member_type=vm,
                                        cond_scope_op=pol_const.CONDITION_OP_NOTEQUALS)
        nested = group.build_nested_condition(conditions=[tag, name])
        union = group.build_union_condition(conditions=[nested, not_env])
        group.create_or_overwrite_with_conditions("shop", DOMAIN, group_id="shop",
                                                  conditions=union)
        body = group.get(DOMAIN, "shop")
        types = [e["resource_type"] for e in body["expression"]]
        expect_eq(sorted(types), ["Condition", "ConjunctionOperator", "NestedExpression"],
                  "expression types")
        expect_eq(body["expression"][1]["conjunction_operator"], "OR", "union operator")
        nested_body = next(e for e in body["expression"]
                           if e["resource_type"] == "NestedExpression")
        expect_eq([e["resource_type"] for e in nested_body["expressions"]],
                  ["Condition", "ConjunctionOperator", "Condition"], "nested expressions")
        expect_eq(nested_body["expressions"][1]["conjunction_operator"], "AND",
                  "nested operator")
        scoped = next(e for e in body["expression"] if e["resource_type"] == "Condition")
        # NSX >= 3.2: nsxlib sends scope_operator NOTEQUALS and drops operator.
        expect_eq(scoped.get("scope_operator"), "NOTEQUALS", "scope_operator")
        for expression in body["expression"]:
            expect(expression.get("path", "").startswith(GROUP_PREFIX + "shop/"),
                   "expression path %r", expression.get("path"))

    def groups_with_ip_and_path_expressions(self):
        group = self.lib.group
        ips = group.build_ip_address_expression(["10.0.0.1", "10.0.1.0/24", "10.0.2.1-10.0.2.9"])
        group.create_or_overwrite_with_conditions("ips", DOMAIN, group_id="ips",
                                                  conditions=[ips])
        body = group.get(DOMAIN, "ips")
        expect_eq(body["expression"][0]["ip_addresses"],
                  ["10.0.0.1", "10.0.1.0/24", "10.0.2.1-10.0.2.9"], "ip_addresses")
        paths = group.build_path_expression([group.get_path(DOMAIN, "web"),
                                             group.get_path(DOMAIN, "ips")])
        group.create_or_overwrite_with_conditions("web-and-ips", DOMAIN, group_id="web-and-ips",
                                                  conditions=[paths])
        body = group.get(DOMAIN, "web-and-ips")
        expect_eq(body["expression"][0]["paths"], [GROUP_PREFIX + "web", GROUP_PREFIX + "ips"],
                  "paths")
        missing = group.build_path_expression([GROUP_PREFIX + "no-such-group"])
        error = expect_raises(nsx_exc.ManagerError,
                              group.create_or_overwrite_with_conditions,
                              "bad path", DOMAIN, group_id="bad-path", conditions=[missing])
        expect_eq(error.status_code, 400, "status of an invalid path")
        expect(isinstance(error, nsx_exc.NsxInvalidPath), "not NsxInvalidPath: %r", error)

    def group_updates(self):
        group = self.lib.group
        # PATCH with nsx-enable-partial-patch (NSX >= 3.0).
        group.update(DOMAIN, "web", description="web tier, updated",
                     tags=[{"scope": "owner", "tag": "nsxlib-2"}])
        body = group.get(DOMAIN, "web")
        expect_eq(body["description"], "web tier, updated", "description")
        expect_eq(body["_revision"], 1, "_revision after PATCH")
        expect_eq(body["expression"][0]["value"], "tier|web", "expression kept by PATCH")
        # GET, then PUT of the whole group with its _revision.
        vm = pol_const.CONDITION_MEMBER_VM
        group.update_with_conditions(
            DOMAIN, "web", name="web servers v2",
            conditions=[group.build_condition(cond_val="tier|frontend", cond_member_type=vm)])
        body = group.get(DOMAIN, "web")
        expect_eq(body["display_name"], "web servers v2", "display_name after PUT")
        expect_eq([e["value"] for e in body["expression"]], ["tier|frontend"],
                  "expression after PUT")
        expect_eq(body["_revision"], 2, "_revision after PUT")
        expect_eq(group.get_by_name(DOMAIN, "web servers v2")["id"], "web", "get_by_name")
        # None is sent as null, which unsets the field.
        group.update(DOMAIN, "web", description=None)
        body = group.get(DOMAIN, "web")
        expect("description" not in body, "description not unset: %r", body.get("description"))
        expect_eq(body["display_name"], "web servers v2", "display_name kept")
        # A PUT with a stale revision is refused, and nsxlib reports StaleRevision.
        stale = core_defs.GroupDef(domain_id=DOMAIN, group_id="web", name="stale")
        expect_raises(nsx_exc.StaleRevision, self.api.update_with_put, stale, revision=0)

    def group_delete(self):
        group = self.lib.group
        group.create_or_overwrite("doomed", DOMAIN, group_id="doomed", cond_val="x|y")
        group.delete(DOMAIN, "doomed")
        error = expect_raises(nsx_exc.ManagerError, group.get, DOMAIN, "doomed")
        expect_eq(error.status_code, 404, "status of a deleted group")
        expect(isinstance(error, nsx_exc.ResourceNotFound),
               "nsxlib did not see a missing group: %s %r", type(error).__name__, error)
        ids = [g["id"] for g in group.list(DOMAIN)]
        expect("doomed" not in ids and "web" in ids, "group list %r", ids)

    # --- services -----------------------------------------------------------------------------

    def l4_services(self):
        service = self.lib.service
        service.create_or_overwrite("shop ports", service_id="shop-ports",
                                    description="shop", protocol=pol_const.TCP,
                                    dest_ports=["8080", "8443-8445"], source_ports=["1024-65535"])
        body = service.get("shop-ports")
        expect_eq(body["path"], SERVICE_PREFIX + "shop-ports", "path")
        [entry] = body["service_entries"]
        expect_eq(entry["resource_type"], "L4PortSetServiceEntry", "entry type")
        expect_eq(entry["id"], "entry", "entry id (nsxlib's single entry)")
        expect_eq(entry["l4_protocol"], "TCP", "l4_protocol")
        expect_eq(entry["destination_ports"], ["8080", "8443-8445"], "destination_ports")
        expect_eq(entry["source_ports"], ["1024-65535"], "source_ports")
        expect_eq(body.get("service_type"), "NON_ETHER", "service_type")
        # update: PATCH of the service carrying the re-read entry.
        service.update("shop-ports", name="shop ports v2", dest_ports=["443"],
                       protocol=pol_const.UDP)
        body = service.get("shop-ports")
        expect_eq(body["display_name"], "shop ports v2", "display_name")
        [entry] = body["service_entries"]
        expect_eq((entry["l4_protocol"], entry["destination_ports"]), ("UDP", ["443"]),
                  "updated entry")
        error = expect_raises(nsx_exc.ManagerError, service.create_or_overwrite,
                              "bad ports", service_id="bad-ports", dest_ports=["70000"])
        expect_eq(error.status_code, 400, "status of an out-of-range port")

    def icmp_and_other_services(self):
        self.lib.icmp_service.create_or_overwrite("ping", service_id="ping", version=4,
                                                  icmp_type=8, icmp_code=0)
        [entry] = self.lib.icmp_service.get("ping")["service_entries"]
        expect_eq((entry["resource_type"], entry["protocol"], entry["icmp_type"],
                   entry["icmp_code"]), ("ICMPTypeServiceEntry", "ICMPv4", 8, 0), "icmp entry")
        self.lib.icmp_service.update("ping", icmp_type=0)
        expect_eq(self.lib.icmp_service.get("ping")["service_entries"][0]["icmp_type"], 0,
                  "updated icmp_type")
        self.lib.icmp_service.create_or_overwrite("ping6", service_id="ping6", version=6,
                                                  icmp_type=128)
        [entry] = self.lib.icmp_service.get("ping6")["service_entries"]
        expect_eq(entry["protocol"], "ICMPv6", "ICMPv6")
        self.lib.ip_protocol_service.create_or_overwrite("gre", service_id="gre",
                                                         protocol_number=47)
        [entry] = self.lib.ip_protocol_service.get("gre")["service_entries"]
        expect_eq((entry["resource_type"], entry["protocol_number"]),
                  ("IPProtocolServiceEntry", 47), "ip protocol entry")
        entries = [
            self.lib.service.build_entry("http", "mixed", "http", protocol=pol_const.TCP,
                                         dest_ports=["80"]),
            self.lib.icmp_service.build_entry("echo", "mixed", "echo", icmp_type=8),
        ]
        self.lib.mixed_service.create_or_overwrite("mixed", "mixed", entries=entries)
        body = self.lib.mixed_service.get("mixed")
        expect_eq(sorted(e["resource_type"] for e in body["service_entries"]),
                  ["ICMPTypeServiceEntry", "L4PortSetServiceEntry"], "mixed entries")
        listed = {s["id"]: s for s in self.lib.service.list()}
        for sid in ("shop-ports", "ping", "gre", "mixed", "HTTP", "SSH"):
            expect(sid in listed, "%s not listed", sid)
        expect(listed["HTTP"].get("is_default") is True, "HTTP is not a default service")
        expect(listed["mixed"].get("service_entries"), "list does not embed service entries")
        self.lib.service.delete("ping6")
        expect_raises(nsx_exc.ManagerError, self.lib.service.get, "ping6")

    # --- security policies --------------------------------------------------------------------

    def policy_with_entries(self):
        comm_map = self.lib.comm_map
        entries = [
            comm_map.build_entry("allow web to db", DOMAIN, "shop-policy", entry_id="web-db",
                                 sequence_number=10, source_groups=["web"],
                                 dest_groups=["db"], service_ids=["shop-ports", "HTTP"],
                                 direction=nsx_constants.IN, logged=True, tag="web-db"),
            comm_map.build_entry("drop the rest", DOMAIN, "shop-policy", entry_id="rest",
                                 sequence_number=20,
                                 action=pol_const.ACTION_DENY, plain_groups=True,
                                 source_groups=["10.1.0.0/16", GROUP_PREFIX + "ips"],
                                 dest_groups=None,
                                 service_entries=[core_defs.L4ServiceEntryDef(
                                     entry_id="raw", protocol="TCP",
                                     dest_ports=["22"]).get_obj_dict()]),
        ]
        map_id = comm_map.create_with_entries("shop policy", DOMAIN, map_id="shop-policy",
                                              category=pol_const.CATEGORY_APPLICATION,
                                              entries=entries, map_sequence_number=5,
                                              tags=[{"scope": "app", "tag": "shop"}])
        expect_eq(map_id, "shop-policy", "map id")
        body = comm_map.get(DOMAIN, "shop-policy")
        expect_eq((body["category"], body["sequence_number"]), ("Application", 5),
                  "category and sequence_number")
        expect_eq([r["id"] for r in body["rules"]], ["web-db", "rest"], "rules in order")
        web_db, rest = body["rules"]
        expect_eq(web_db["source_groups"], [GROUP_PREFIX + "web"], "source_groups")
        expect_eq(web_db["destination_groups"], [GROUP_PREFIX + "db"], "destination_groups")
        expect_eq(web_db["services"], [SERVICE_PREFIX + "shop-ports", SERVICE_PREFIX + "HTTP"],
                  "services")
        expect_eq((web_db["direction"], web_db["logged"], web_db["tag"], web_db["action"]),
                  ("IN", True, "web-db", "ALLOW"), "rule fields")
        expect(isinstance(web_db.get("rule_id"), int) and web_db["rule_id"] >= 1000,
               "rule_id %r", web_db.get("rule_id"))
        expect_eq(rest["destination_groups"], ["ANY"], "ANY destination")
        expect_eq(rest["source_groups"], ["10.1.0.0/16", GROUP_PREFIX + "ips"],
                  "plain source groups")
        expect_eq(rest["services"], ["ANY"], "ANY services")
        expect_eq(rest["service_entries"][0]["destination_ports"], ["22"],
                  "raw service entry")
        expect_eq(body.get("rule_count"), 2, "rule_count")
        entry = comm_map.get_entry(DOMAIN, "shop-policy", "web-db")
        expect_eq(entry["rule_id"], web_db["rule_id"], "get_entry rule_id")
        listed = comm_map.list(DOMAIN)
        expect("shop-policy" in [p["id"] for p in listed], "policy not listed")
        expect_eq(comm_map.get_by_name(DOMAIN, "shop policy")["id"], "shop-policy",
                  "get_by_name")

    def policy_entries_one_by_one(self):
        comm_map = self.lib.comm_map
        # The next free sequence number is read from the policy (GET), the rule PATCHed.
        entry_id = comm_map.create_entry("ping", DOMAIN, "shop-policy", entry_id="ping",
                                         service_ids=["ping"], source_groups=["web"])
        expect_eq(entry_id, "ping", "entry id")
        entry = comm_map.get_entry(DOMAIN, "shop-policy", "ping")
        expect_eq(entry["sequence_number"], 21, "next sequence number")
        comm_map.update_entry(DOMAIN, "shop-policy", "ping", action=pol_const.ACTION_DENY,
                              dest_groups=["db"])
        entry = comm_map.get_entry(DOMAIN, "shop-policy", "ping")
        expect_eq((entry["action"], entry["destination_groups"]),
                  ("DROP", [GROUP_PREFIX + "db"]), "updated entry")
        comm_map.delete_entry(DOMAIN, "shop-policy", "ping")
        expect_raises(nsx_exc.ManagerError, comm_map.get_entry, DOMAIN, "shop-policy", "ping")
        # A rule naming a group that does not exist.
        error = expect_raises(nsx_exc.ManagerError, comm_map.create_entry, "bad", DOMAIN,
                              "shop-policy", entry_id="bad", dest_groups=["no-such-group"])
        expect(isinstance(error, nsx_exc.NsxInvalidPath), "not NsxInvalidPath: %r", error)
        # A group a rule uses cannot be deleted.
        error = expect_raises(nsx_exc.ManagerError, self.lib.group.delete, DOMAIN, "db")
        expect(isinstance(error, nsx_exc.ResourceInUse), "not ResourceInUse: %r", error)

    def policy_update_with_entries(self):
        comm_map = self.lib.comm_map
        before = {r["id"]: r for r in comm_map.get(DOMAIN, "shop-policy")["rules"]}
        revision = comm_map.get(DOMAIN, "shop-policy")["_revision"]
        entries = [
            comm_map.build_entry("allow web to db, v2", DOMAIN, "shop-policy",
                                 entry_id="web-db", sequence_number=10,
                                 source_groups=["web", "shop"], dest_groups=["db"],
                                 service_ids=["shop-ports"]),
            comm_map.build_entry("allow ping", DOMAIN, "shop-policy", entry_id="icmp",
                                 sequence_number=15, service_ids=["ping"]),
        ]
        # GET, then PUT of the policy with its _revision and the new rule list.
        comm_map.update_with_entries(DOMAIN, "shop-policy", entries=entries,
                                     description="rules replaced")
        body = comm_map.get(DOMAIN, "shop-policy")
        expect_eq([r["id"] for r in body["rules"]], ["web-db", "icmp"], "rules replaced")
        expect_eq(body["description"], "rules replaced", "description")
        expect(body["_revision"] > revision, "_revision did not move")
        web_db = body["rules"][0]
        expect_eq(web_db["display_name"], "allow web to db, v2", "rule display_name")
        expect_eq(web_db["source_groups"], [GROUP_PREFIX + "web", GROUP_PREFIX + "shop"],
                  "rule source_groups")
        expect_eq(web_db["rule_id"], before["web-db"]["rule_id"], "rule_id kept")
        expect_raises(nsx_exc.ManagerError, comm_map.get_entry, DOMAIN, "shop-policy", "rest")
        # update(): name and the single entry's action, category re-read from NSX.
        comm_map.create_or_overwrite("single", DOMAIN, map_id="single",
                                     source_groups=["web"], dest_groups=["db"],
                                     service_ids=["HTTP"])
        body = comm_map.get(DOMAIN, "single")
        expect_eq([r["id"] for r in body["rules"]], ["entry"], "single entry")
        expect_eq(body["rules"][0]["sequence_number"], 1, "first sequence number")
        comm_map.update(DOMAIN, "single", name="single v2", action=pol_const.ACTION_DENY)
        body = comm_map.get(DOMAIN, "single")
        expect_eq((body["display_name"], body["rules"][0]["action"]), ("single v2", "DROP"),
                  "updated single policy")
        comm_map.update_entries_logged(DOMAIN, "single", True)
        expect(comm_map.get_entry(DOMAIN, "single", "entry")["logged"], "logged not set")

    def policy_delete(self):
        comm_map = self.lib.comm_map
        comm_map.create_or_overwrite_map_only("short-lived", DOMAIN, map_id="short-lived")
        expect_eq(comm_map.get(DOMAIN, "short-lived").get("rules", []), [], "no rules")
        comm_map.delete(DOMAIN, "short-lived")
        expect_raises(nsx_exc.ManagerError, comm_map.get, DOMAIN, "short-lived")
        comm_map.delete(DOMAIN, "single")
        # With its rule gone, the db group can go too (after the other policy lets go).
        expect("single" not in [p["id"] for p in comm_map.list(DOMAIN)], "still listed")

    # --- H-API transactions ---------------------------------------------------------------

    def transaction_creates_a_tree(self):
        lib = self.lib
        with trans.NsxPolicyTransaction():
            lib.group.create_or_overwrite("tx client", DOMAIN, group_id="tx-client",
                                          cond_val="role|client")
            lib.group.create_or_overwrite("tx server", DOMAIN, group_id="tx-server",
                                          cond_val="role|server")
            lib.service.create_or_overwrite("tx port", service_id="tx-port",
                                            dest_ports=["9000"])
            entries = [lib.comm_map.build_entry(
                "tx rule", DOMAIN, "tx-policy", entry_id="tx-rule", sequence_number=1,
                source_groups=["tx-client"], dest_groups=["tx-server"],
                service_ids=["tx-port"])]
            lib.comm_map.create_with_entries("tx policy", DOMAIN, map_id="tx-policy",
                                             entries=entries)
            # Nothing is sent before the transaction ends.
            expect_raises(nsx_exc.ManagerError, lib.group.get, DOMAIN, "tx-client")
        body = lib.comm_map.get(DOMAIN, "tx-policy")
        expect_eq([r["id"] for r in body["rules"]], ["tx-rule"], "rules")
        expect_eq(body["rules"][0]["destination_groups"], [GROUP_PREFIX + "tx-server"],
                  "rule destination")
        expect_eq(lib.service.get("tx-port")["service_entries"][0]["destination_ports"],
                  ["9000"], "service entry")
        expect_eq(lib.group.get(DOMAIN, "tx-client")["expression"][0]["value"],
                  "role|client", "group condition")

    def transaction_replaces_rules(self):
        lib = self.lib
        entries = [lib.comm_map.build_entry(
            "tx rule 2", DOMAIN, "tx-policy", entry_id="tx-rule-2", sequence_number=2,
            source_groups=["tx-server"], dest_groups=["tx-client"])]
        with trans.NsxPolicyTransaction():
            # ChildRule wrappers, the old rule marked_for_delete.
            lib.comm_map.update_with_entries(DOMAIN, "tx-policy", entries=entries)
        body = lib.comm_map.get(DOMAIN, "tx-policy")
        expect_eq([r["id"] for r in body["rules"]], ["tx-rule-2"], "rules after transaction")
        # patch_entries: a ChildResourceReference to the policy, rules merged.
        extra = [lib.comm_map.build_entry("tx rule 3", DOMAIN, "tx-policy",
                                          entry_id="tx-rule-3", sequence_number=3)]
        with trans.NsxPolicyTransaction():
            lib.comm_map.patch_entries(DOMAIN, "tx-policy", extra)
        body = lib.comm_map.get(DOMAIN, "tx-policy")
        expect_eq([r["id"] for r in body["rules"]], ["tx-rule-2", "tx-rule-3"],
                  "rules after patch_entries")

    def transaction_failure_changes_nothing(self):
        lib = self.lib

        def bad_transaction():
            with trans.NsxPolicyTransaction():
                lib.group.create_or_overwrite("tx orphan", DOMAIN, group_id="tx-orphan")
                entries = [lib.comm_map.build_entry(
                    "dangling", DOMAIN, "tx-bad", entry_id="dangling",
                    dest_groups=["no-such-group"])]
                lib.comm_map.create_with_entries("tx bad", DOMAIN, map_id="tx-bad",
                                                 entries=entries)

        expect_raises(nsx_exc.NsxInvalidPath, bad_transaction)
        expect_raises(nsx_exc.ManagerError, lib.group.get, DOMAIN, "tx-orphan")

    # --- cursors ------------------------------------------------------------------------------

    def many_groups_and_cursors(self):
        lib = self.lib
        before = len(lib.group.list(DOMAIN))
        ids = ["bulk-%04d" % i for i in range(MANY_GROUPS)]
        with trans.NsxPolicyTransaction():
            for gid in ids:
                lib.group.create_or_overwrite(gid, DOMAIN, group_id=gid,
                                              cond_val="bulk|%s" % gid)
        # nsxlib's list follows the cursor of every page until NSX omits it.
        listed = lib.group.list(DOMAIN)
        expect_eq(len(listed), before + MANY_GROUPS, "groups listed across pages")
        listed_ids = [g["id"] for g in listed]
        expect_eq(len(set(listed_ids)), len(listed_ids), "distinct groups")
        expect(set(ids) <= set(listed_ids), "bulk groups missing from the list")
        whole = self.api.list(core_defs.GroupDef(domain_id=DOMAIN))
        expect_eq(whole["result_count"], len(whole["results"]), "result_count")
        # And away again, in one transaction of marked_for_delete wrappers.
        with trans.NsxPolicyTransaction() as transaction:
            for gid in ids:
                group_def = core_defs.GroupDef(domain_id=DOMAIN, group_id=gid)
                group_def.set_delete()
                transaction.store_def(group_def, self.api.client)
        expect_eq(len(lib.group.list(DOMAIN)), before, "groups after the bulk delete")

    # --- realization ------------------------------------------------------------------------

    def span(self, map_id):
        """Spans a policy to the cluster (nsxlib has no helper for container-cluster-span)."""
        cluster_id = self.args.cluster_path.rstrip("/").rsplit("/", 1)[-1]
        self.lib.client.patch(
            "infra/domains/%s/security-policies/%s/container-cluster-span/%s"
            % (DOMAIN, map_id, cluster_id),
            {"resource_type": "SecurityPolicyContainerCluster",
             "container_cluster_path": self.args.cluster_path})

    def realization_of_a_spanned_policy(self):
        lib = self.lib
        lib.group.create_or_overwrite("rz a", DOMAIN, group_id="rz-a", cond_val="rz|a")
        lib.group.create_or_overwrite("rz b", DOMAIN, group_id="rz-b", cond_val="rz|b")
        entries = [lib.comm_map.build_entry("rz rule", DOMAIN, "rz-policy", entry_id="rz-rule",
                                            sequence_number=1, source_groups=["rz-a"],
                                            dest_groups=["rz-b"], service_ids=["shop-ports"])]
        lib.comm_map.create_with_entries("rz policy", DOMAIN, map_id="rz-policy",
                                         entries=entries)
        # Not spanned to any cluster yet: nothing realizes it.
        expect_eq(lib.comm_map.get_realized_state(DOMAIN, "rz-policy"), None,
                  "realized state before the span")
        path = "/infra/domains/default/security-policies/rz-policy"
        status = self.api.get_intent_consolidated_status(path)
        expect_eq(status["consolidated_status"]["consolidated_status"], "UNINITIALIZED",
                  "consolidated status before the span")
        self.span("rz-policy")
        info = lib.comm_map.wait_until_realized(DOMAIN, "rz-policy", **WAIT)
        expect_eq(info["state"], pol_const.STATE_REALIZED, "policy state")
        expect_eq(info["enforcement_point_path"], self.args.cluster_path,
                  "enforcement_point_path")
        expect_eq(info["intent_paths"], [path], "intent_paths")
        lib.comm_map.wait_until_state_sucessful(DOMAIN, "rz-policy", **WAIT)
        expect_eq(lib.comm_map.get_realized_state(DOMAIN, "rz-policy"), "REALIZED",
                  "get_realized_state")
        expect(lib.comm_map.get_realized_id(DOMAIN, "rz-policy"), "no realized id")
        for gid in ("rz-a", "rz-b"):
            info = lib.group.wait_until_realized(DOMAIN, gid, **WAIT)
            expect_eq(info["state"], "REALIZED", "group %s state" % gid)
        expect_eq(lib.service.get_realized_state("shop-ports"), "REALIZED", "service state")
        info = lib.group.get_realization_info(DOMAIN, "rz-a")
        cluster = lib.comm_map._get_extended_attr_from_realized_info(info, "cluster_id")
        expect(cluster and self.args.cluster_path.endswith("/" + cluster[0]),
               "extended attribute cluster_id %r", cluster)
        # A refresh is accepted (204) and changes nothing.
        self.api.refresh_realized_state(path)
        lib.comm_map.wait_until_state_sucessful(DOMAIN, "rz-policy", with_refresh=True, **WAIT)

    def realization_follows_changes(self):
        lib = self.lib
        revision = lib.comm_map.get(DOMAIN, "rz-policy")["_revision"]
        entries = [lib.comm_map.build_entry("rz rule v2", DOMAIN, "rz-policy",
                                            entry_id="rz-rule", sequence_number=1,
                                            source_groups=["rz-b"], dest_groups=["rz-a"])]
        lib.comm_map.update_with_entries(DOMAIN, "rz-policy", entries=entries)
        expect(lib.comm_map.get(DOMAIN, "rz-policy")["_revision"] > revision,
               "_revision did not move")
        lib.comm_map.wait_until_state_sucessful(DOMAIN, "rz-policy", **WAIT)
        status = self.api.get_intent_consolidated_status(
            "/infra/domains/default/security-policies/rz-policy")
        expect_eq(status["intent_version"],
                  str(lib.comm_map.get(DOMAIN, "rz-policy")["_revision"]), "intent_version")

    def realization_errors(self):
        lib = self.lib
        lib.group.create_or_overwrite("rz bad", DOMAIN, group_id="rz-bad",
                                      description="unrealizable in Antrea", cond_val="rz|bad")
        lib.comm_map.create_entry("uses rz-bad", DOMAIN, "rz-policy", entry_id="rz-bad-rule",
                                  source_groups=["rz-bad"])
        error = expect_raises(nsx_exc.RealizationErrorStateError,
                              lib.group.wait_until_realized, DOMAIN, "rz-bad", **WAIT)
        expect("cannot be expressed" in str(error), "error message %s" % error)
        expect(error.error_code is not None, "no error_code in the realization error")
        expect_eq(lib.group.get_realized_state(DOMAIN, "rz-bad"), "ERROR", "group state")
        status = self.api.get_intent_consolidated_status(GROUP_PREFIX + "rz-bad")
        expect_eq(status["consolidated_status"]["consolidated_status"], "ERROR",
                  "consolidated status")
        # The policy itself is still realized.
        lib.comm_map.wait_until_state_sucessful(DOMAIN, "rz-policy", **WAIT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manager", required=True, help="HOST:PORT of the NSX Manager")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--cluster-path", required=True)
    parser.add_argument("--verbose", action="store_true", help="log nsxlib's REST calls")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                        stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    scenario = Scenario(args)
    checks = Checks()
    started = time.monotonic()
    checks.run("connect: health probe, session, NSX version", scenario.connect)
    if scenario.lib is None:
        print("0 passed, 1 failed (cannot connect)")
        return 1
    for name, func in [
        ("domain get and list", scenario.domains),
        ("groups with a condition", scenario.groups_with_a_condition),
        ("groups with nested and union conditions",
         scenario.groups_with_nested_and_union_conditions),
        ("groups with IP address and path expressions",
         scenario.groups_with_ip_and_path_expressions),
        ("group updates (PATCH, GET+PUT, stale revision)", scenario.group_updates),
        ("group delete", scenario.group_delete),
        ("L4 port-set services", scenario.l4_services),
        ("ICMP, IP protocol and mixed services", scenario.icmp_and_other_services),
        ("security policy with entries", scenario.policy_with_entries),
        ("rules one by one, invalid path, group in use", scenario.policy_entries_one_by_one),
        ("update_with_entries and update", scenario.policy_update_with_entries),
        ("security policy delete", scenario.policy_delete),
        ("H-API transaction creates a tree", scenario.transaction_creates_a_tree),
        ("H-API transaction replaces and patches rules", scenario.transaction_replaces_rules),
        ("H-API transaction failure changes nothing",
         scenario.transaction_failure_changes_nothing),
        ("%d groups: transaction, cursor paging, bulk delete" % MANY_GROUPS,
         scenario.many_groups_and_cursors),
        ("realization of a spanned policy", scenario.realization_of_a_spanned_policy),
        ("realization follows changes", scenario.realization_follows_changes),
        ("realization errors", scenario.realization_errors),
    ]:
        checks.run(name, func)
    print("%d passed, %d failed (%.1fs)" % (checks.passed, checks.failed,
                                            time.monotonic() - started))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
