"""Hardware the sandbox's devices are made of: makes, models, operating systems, serial and MAC formats.

Serial formats follow each vendor (Dell service tags, HP "5CD...", VMware BIOS UUIDs) because the hard cases live in
them: a VMware clone's serial is shared, a white-box PC reports a placeholder.
"""

import random
import string

ALNUM = string.ascii_uppercase + string.digits

# kind -> [(manufacturer, model, serial style, MAC OUI)]
MODELS: dict[str, list[tuple[str, str, str, str]]] = {
    "server": [
        ("Dell Inc.", "PowerEdge R650", "dell", "B0:7B:25"), ("Dell Inc.", "PowerEdge T440", "dell", "F4:02:70"),
        ("HPE", "ProLiant DL380 Gen10", "hpe", "94:40:C9"), ("Lenovo", "ThinkSystem SR630", "lenovo", "08:94:EF"),
        ("VMware, Inc.", "VMware Virtual Platform", "vmware", "00:50:56"),
        ("Microsoft Corporation", "Virtual Machine", "hyperv", "00:15:5D"),
    ],
    "workstation": [
        ("Dell Inc.", "OptiPlex 7090", "dell", "D8:9E:F3"), ("Dell Inc.", "OptiPlex 5000", "dell", "6C:2B:59"),
        ("HP", "EliteDesk 800 G6", "hp", "30:24:A9"), ("HP", "ProDesk 400 G7", "hp", "7C:D3:0A"),
        ("Lenovo", "ThinkCentre M70q", "lenovo", "E8:6A:64"),
        ("System manufacturer", "System Product Name", "whitebox", "04:D9:F5"),
    ],
    "laptop": [
        ("Dell Inc.", "Latitude 5420", "dell", "A4:BB:6D"), ("Dell Inc.", "Latitude 7440", "dell", "C8:5A:CF"),
        ("HP", "EliteBook 840 G8", "hp", "38:CA:84"), ("Lenovo", "ThinkPad T14 Gen 3", "lenovo", "3C:52:82"),
        ("Apple Inc.", "MacBookPro18,3", "apple", "F0:18:98"), ("Microsoft Corporation", "Surface Laptop 5", "msft", "C4:9D:ED"),
    ],
    "network": [
        ("Fortinet", "FortiGate 60F", "fortinet", "70:4C:A5"), ("Cisco", "Catalyst 2960-X", "cisco", "00:1B:54"),
        ("Ubiquiti", "USW-24-POE", "ubiquiti", "24:5A:4C"), ("Cisco Meraki", "MX68", "meraki", "E0:55:3D"),
        ("SonicWall", "TZ370", "sonicwall", "2C:B8:ED"),
    ],
    "printer": [
        ("HP", "LaserJet Pro M404dn", "hp", "00:1B:A9"), ("Brother", "HL-L2350DW", "brother", "30:05:5C"),
        ("Canon", "imageRUNNER ADVANCE C5535i", "canon", "00:1E:8F"), ("Xerox", "VersaLink C405", "xerox", "9C:93:4E"),
    ],
}

OPERATING_SYSTEMS = {
    "server": ["Windows Server 2019 Standard", "Windows Server 2022 Standard", "Windows Server 2016 Standard",
               "Ubuntu 22.04 LTS"],
    "workstation": ["Windows 10 Pro", "Windows 11 Pro", "Windows 11 Pro", "Windows 10 Enterprise"],
    "laptop": ["Windows 11 Pro", "Windows 10 Pro", "Windows 11 Pro"],
    "network": [None],
    "printer": [None],
}

MAC_OS = "macOS 14 Sonoma"

# Values BIOSes and tools write when they know no serial (the staging normalizer turns them into NULL).
PLACEHOLDER_SERIALS = ["To be filled by O.E.M.", "Default string", "System Serial Number", "0", "None", "N/A"]

# Virtual and VPN adapters whose MAC is the same on every machine that has them.
SHARED_VIRTUAL_MACS = ["00:09:0F:FE:00:01", "00:05:9A:3C:7A:00", "02:00:4C:4F:4F:50"]

# IT Glue configuration types, by device kind: (id, name, kind).
ITGLUE_TYPES = {
    "server": (65, "Managed Server", "server"),
    "workstation": (66, "Managed Workstation", "workstation"),
    "laptop": (67, "Laptop", "laptop"),
    "network": (42, "Network Device", "switch"),
    "printer": (48, "Printer", "printer"),
}
CONNECTWISE_TYPES = {"server": (12, "Managed Server"), "workstation": (14, "Managed Workstation"),
                     "laptop": (15, "Laptop"), "network": (16, "Network Device"), "printer": (17, "Printer")}
AUTOTASK_CATEGORIES = {"server": 3, "workstation": 4, "laptop": 5, "network": 6, "printer": 7}
DATTO_TYPES = {"server": ("Server", "Main System Chassis"), "workstation": ("Desktop", "Desktop"),
               "laptop": ("Laptop", "Notebook")}
NINJA_CLASSES = {"server": "WINDOWS_SERVER", "workstation": "WINDOWS_WORKSTATION", "laptop": "WINDOWS_WORKSTATION"}
CHASSIS = {"server": "RACK_MOUNT", "workstation": "DESKTOP", "laptop": "NOTEBOOK"}


def serial_for(rng: random.Random, style: str) -> str:
    """A serial in the vendor's own format."""
    pick = rng.choices
    if style == "dell":
        return "".join(pick(ALNUM, k=7))
    if style in ("hp", "hpe"):
        return rng.choice(["5CD", "CZC", "MXL", "2M2"]) + "".join(pick(ALNUM, k=7))
    if style == "lenovo":
        return rng.choice(["PF", "MJ", "S4"]) + "".join(pick(ALNUM, k=6))
    if style == "apple":
        return "C02" + "".join(pick(ALNUM, k=9))
    if style == "vmware":
        return vmware_serial(rng)
    if style == "hyperv":
        return "-".join("".join(pick(string.digits, k=4)) for _ in range(7))
    if style == "msft":
        return "".join(pick(string.digits, k=12))
    if style == "whitebox":
        return "".join(pick(ALNUM, k=15))
    if style == "fortinet":
        return "FGT60F" + "".join(pick(ALNUM, k=10))
    if style == "cisco":
        return rng.choice(["FOC", "FCW", "FTX"]) + "".join(pick(ALNUM, k=8))
    if style == "meraki":
        return "Q2" + "-".join("".join(pick(ALNUM, k=n)) for n in (2, 4, 4))
    if style == "ubiquiti":
        return "".join(pick("0123456789ABCDEF", k=12))
    if style == "sonicwall":
        return "2CB8ED" + "".join(pick("0123456789ABCDEF", k=6))
    if style == "brother":
        return "U6" + "".join(pick(ALNUM, k=8))
    if style == "canon":
        return rng.choice(["2ZC", "3BF"]) + "".join(pick(string.digits, k=5))
    return "".join(pick(ALNUM, k=10))


def vmware_serial(rng: random.Random) -> str:
    """A VMware BIOS serial: 'VMware-42 1a 2b 3c 4d 5e 6f 70-81 92 a3 b4 c5 d6 e7 f8'."""
    b = [f"{rng.getrandbits(8):02x}" for _ in range(15)]
    return "VMware-42 " + " ".join(b[:7]) + "-" + " ".join(b[7:])


def mac_for(rng: random.Random, oui: str) -> str:
    """A MAC under the vendor's OUI, as 12 upper-case hex digits (the canonical form; systems render it)."""
    return oui.replace(":", "") + f"{rng.getrandbits(24):06X}"


def mac_colon(mac12: str) -> str:
    m = mac12
    return f"{m[0:2]}:{m[2:4]}:{m[4:6]}:{m[6:8]}:{m[8:10]}:{m[10:12]}"


def mac_render(mac12: str, style: int) -> str:
    """The formats tools write one MAC in: 0 'AA:BB:..', 1 'aa-bb-..', 2 'aabb..', 3 'AA-BB-..', 4 'aa:bb:..'."""
    if style == 0:
        return mac_colon(mac12)
    if style == 1:
        return mac_colon(mac12).replace(":", "-").lower()
    if style == 2:
        return mac12.lower()
    if style == 3:
        return mac_colon(mac12).replace(":", "-")
    return mac_colon(mac12).lower()


def uuid_from(rng: random.Random) -> str:
    """A version-4-shaped UUID drawn from rng (uuid.uuid4 would break determinism)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"
