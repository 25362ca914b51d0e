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
