"""The normalizers in sql/staging/macros.sql: what makes two spellings of one thing compare equal."""

import duckdb
import pytest

from pipelines.warehouse import run_script


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    run_script(con, "staging/macros.sql")
    yield con
    con.close()


def one(con, expression: str, value):
    return con.execute(f"SELECT {expression}", [value]).fetchall()[0][0]


@pytest.mark.parametrize("a,b", [
    ("Contoso, Inc.", "CONTOSO"), ("Contoso Inc", "contoso"), ("Fabrikam, Inc.", "Fabrikam Incorporated"),
    ("Northwind Traders LLC", "Northwind Traders"), ("Smith & Sons Ltd.", "Smith and Sons"),
    ("The Tailspin Company", "Tailspin"),
])
def test_names_that_are_one_client(con, a, b):
    assert one(con, "norm_name(?)", a) == one(con, "norm_name(?)", b)


@pytest.mark.parametrize("a,b", [("Acme Dental - North", "Acme Dental - South"), ("Contoso", "Contoso Labs")])
def test_branches_and_other_names_stay_apart(con, a, b):
    assert one(con, "norm_name(?)", a) != one(con, "norm_name(?)", b)


@pytest.mark.parametrize("raw,expected", [
    ("00:1A:2B:3C:4D:5E", "001A2B3C4D5E"), ("00-1a-2b-3c-4d-5e", "001A2B3C4D5E"), ("001a2b3c4d5e", "001A2B3C4D5E"),
    ("001a.2b3c.4d5e", "001A2B3C4D5E"),  # Cisco dotted form
    ("00:1A:2B:3C:4D:5", None),  # cut at 17 characters: incomplete, no match
    ("00:00:00:00:00:00", None), (None, None),
])
def test_mac_is_twelve_hex_digits(con, raw, expected):
    assert one(con, "norm_mac(?)", raw) == expected


def test_several_macs_in_one_field(con):
    assert one(con, "norm_macs(?)", "00:1A:2B:3C:4D:5E; AA-BB-CC-DD-EE-FF") == ["001A2B3C4D5E", "AABBCCDDEEFF"]


def test_a_list_of_mac_fields_keeps_the_macs_in_order(con):
    fields = ["aa-bb-cc-dd-ee-ff", None, "00:00:00:00:00:00", "not a mac", "00:1A:2B:3C:4D:5E; 11:22:33:44:55:66"]
    assert one(con, "norm_mac_list(?::VARCHAR[])", fields) == ["AABBCCDDEEFF", "001A2B3C4D5E"]
    assert one(con, "norm_mac_list(?::VARCHAR[])", None) == []


@pytest.mark.parametrize("placeholder", [
    "To be filled by O.E.M.", "Default string", "System Serial Number", "0", "None", "N/A", "000000", " ", None,
])
def test_placeholder_serials_are_missing(con, placeholder):
    assert one(con, "norm_serial(?)", placeholder) is None


def test_real_serials_are_kept_upper_case(con):
    assert one(con, "norm_serial(?)", " 5cd1234xyz ") == "5CD1234XYZ"
    assert one(con, "norm_serial(?)", "VMware-42 1a 2b") == "VMWARE-42 1A 2B"


@pytest.mark.parametrize("raw,expected", [
    ("ws-014.contoso.local", "ws-014"), ("WS-014", "ws-014"), ("  DC01 ", "dc01"), ("", None), (None, None),
])
def test_hostnames_short_and_lower(con, raw, expected):
    assert one(con, "norm_hostname(?)", raw) == expected


def test_phones_emails_domains(con):
    assert one(con, "phone_digits(?)", "+1 (813) 555-0100") == "8135550100"
    assert one(con, "phone_digits(?)", "x12") is None
    assert one(con, "norm_email(?)", " Bob.Dobbs@Contoso.COM ") == "bob.dobbs@contoso.com"
    assert one(con, "norm_domain(?)", "https://www.Contoso.com/about") == "contoso.com"


@pytest.mark.parametrize("raw,expected", [
    ("Managed Server", "server"), ("WINDOWS_SERVER", "server"), ("Notebook", "laptop"), ("Printer", "printer"),
    ("Firewall", "network"), ("Managed Workstation", "workstation"), (None, "other"),
])
def test_configuration_categories(con, raw, expected):
    assert one(con, "config_category(?)", raw) == expected


def test_staging_refuses_a_record_repeated_within_a_source():
    import polars as pl

    from pipelines.staging import StagingError, build_staging
    from pipelines.warehouse import replace_tables

    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging")
    row = {"id": "7", "name": "Contoso", "short_name": None, "organization_type_name": None,
           "organization_status_name": "Active", "psa_integration": None, "primary": False, "parent_id": None,
           "quick_notes": None, "created_at": None, "updated_at": None, "raw_json": "{}", "extracted_at": None}
    from pipelines.sources.itglue import CONFIGURATIONS, CONTACTS, ORGANIZATIONS

    frames = {r.table: r.empty_frame() for r in (CONFIGURATIONS, CONTACTS)}
    frames["itglue_organizations"] = pl.concat([ORGANIZATIONS.empty_frame(),
                                                pl.DataFrame([row, row], schema=ORGANIZATIONS.empty_frame().schema)])
    replace_tables(con, "raw", frames)
    with pytest.raises(StagingError, match="itglue:7 x2"):
        build_staging(con, ["itglue"])
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'"
                       ).fetchall()[0][0] == 0  # nothing half-built is left behind


@pytest.mark.parametrize("raw,expected", [
    ("10.0.0.10", "10.0.0.10"), ("10.0.0.10, fe80::1", "10.0.0.10"), ("fe80::1 192.168.1.5 (LAN)", "192.168.1.5"),
    ("", None), (None, None), ("n/a", None),
])
def test_first_ipv4_from_free_text(con, raw, expected):
    assert one(con, "first_ipv4(?)", raw) == expected
