"""Word lists the sandbox tenant is built from: client names, people, places, hardware.

Plain data, so the generator reads as a story and the lists can grow without touching it.
"""

# Classic Microsoft sample names first: they make demos recognisable.
FAMOUS_CLIENTS = [
    "Contoso", "Fabrikam", "Northwind Traders", "Adventure Works", "Tailspin Toys", "Wide World Importers",
    "Woodgrove Bank", "Litware", "Proseware", "Alpine Ski House", "Coho Winery", "Fourth Coffee",
    "Lucerne Publishing", "Margie's Travel", "Trey Research", "Wingtip Toys", "Blue Yonder Airlines",
    "City Power & Light", "Graphic Design Institute", "Humongous Insurance", "Southridge Video",
    "Tailwind Traders", "VanArsdel", "Relecloud", "Happy Frog", "Acme Dental",
]

PLACE_WORDS = [
    "Northwind", "Blue Ridge", "Summit", "Riverside", "Lakeside", "Harbor", "Cedar", "Maple", "Oakwood", "Pinecrest",
    "Silver Creek", "Red Rock", "Granite", "Evergreen", "Highland", "Meadow", "Willow", "Stonebridge", "Fox Hollow",
    "Eagle", "Falcon", "Horizon", "Pioneer", "Liberty", "Heritage", "Crescent", "Bayview", "Sunrise", "Clearwater",
    "Ironwood", "Westfield", "Eastgate", "Southport", "Northgate", "Brookside", "Hillcrest", "Golden Gate", "Canyon",
    "Prairie", "Coastal", "Atlas", "Keystone", "Cornerstone", "Beacon", "Lighthouse", "Copper", "Sterling",
    "Redwood", "Aspen", "Juniper", "Magnolia", "Orchard", "Valley", "Glacier", "Timber", "Shoreline", "Skyline",
    "Crossroads", "Parkside", "Greenfield", "Fairview", "Kingston", "Windsor", "Ashford", "Bristol", "Camden",
]

SURNAME_WORDS = [
    "Hargrove", "Whitman", "Calloway", "Pemberton", "Ashworth", "Delgado", "Fitzgerald", "Okafor", "Lindqvist",
    "Moreau", "Castellano", "Brennan", "Nakamura", "Ellison", "Prescott", "Holloway", "Vasquez", "Kowalski",
    "Thornton", "Gallagher", "Abernathy", "Reinhardt", "Sullivan", "Marchetti", "Donnelly", "Hawthorne",
    "Lockwood", "Montgomery", "Whitaker", "Sinclair", "Bancroft", "Carrington", "Dunmore", "Everett", "Fairbanks",
]

INDUSTRY_WORDS = [
    "Dental", "Family Dentistry", "Orthodontics", "Veterinary Clinic", "Animal Hospital", "Family Practice",
    "Pediatrics", "Physical Therapy", "Chiropractic", "Eye Care", "Law Group", "Legal", "Law Offices",
    "Accounting", "CPA Group", "Tax Services", "Financial Advisors", "Wealth Management", "Insurance Agency",
    "Realty", "Properties", "Property Management", "Construction", "Builders", "Roofing", "Plumbing",
    "Electric", "HVAC", "Landscaping", "Engineering", "Architects", "Design Studio", "Manufacturing",
    "Machine Works", "Fabrication", "Logistics", "Freight", "Distribution", "Supply", "Auto Group",
    "Motors", "Marine", "Foods", "Bakery", "Brewing", "Coffee Roasters", "Catering", "Hospitality",
    "Hotel", "Senior Living", "Home Health", "Staffing", "Consulting", "Marketing", "Media", "Printing",
    "Title Company", "Credit Union", "Church", "Academy", "Montessori School", "Foundation", "Nonprofit",
]

LEGAL_SUFFIXES = ["Inc.", "LLC", "Ltd", "Corp.", "Co.", "LLP", "PC", "Group Inc.", "Ltd."]

BRANCHES = ["North", "South", "East", "West", "Downtown", "Uptown", "Midtown", "Westside", "Eastside", "Airport"]

TLDS = [".com", ".com", ".com", ".net", ".org", ".us", ".co"]

CITIES = [
    ("Tampa", "FL", "813"), ("Orlando", "FL", "407"), ("Austin", "TX", "512"), ("Dallas", "TX", "214"),
    ("Denver", "CO", "303"), ("Phoenix", "AZ", "602"), ("Seattle", "WA", "206"), ("Portland", "OR", "503"),
    ("Atlanta", "GA", "404"), ("Charlotte", "NC", "704"), ("Nashville", "TN", "615"), ("Columbus", "OH", "614"),
    ("Chicago", "IL", "312"), ("Minneapolis", "MN", "612"), ("Boston", "MA", "617"), ("Albany", "NY", "518"),
    ("Pittsburgh", "PA", "412"), ("Richmond", "VA", "804"), ("Salt Lake City", "UT", "801"), ("Boise", "ID", "208"),
    ("Omaha", "NE", "402"), ("Kansas City", "MO", "816"), ("Sacramento", "CA", "916"), ("San Diego", "CA", "619"),
]

STREETS = ["Main St", "Oak Ave", "Market St", "Commerce Dr", "Industrial Pkwy", "Park Blvd", "Center St",
           "Tech Valley Dr", "Lake Rd", "Broadway", "Elm St", "Corporate Way", "Washington Ave", "Highland Rd"]

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher", "Karen",
    "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
    "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie",
    "George", "Rebecca", "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Dorothy",
    "Jacob", "Amy", "Nicholas", "Kathleen", "Gary", "Angela", "Eric", "Shirley", "Jonathan", "Emma",
    "Stephen", "Brenda", "Larry", "Pamela", "Justin", "Nicole", "Scott", "Anna", "Brandon", "Samantha",
    "Benjamin", "Katherine", "Samuel", "Christine", "Gregory", "Debra", "Alexander", "Rachel", "Patrick",
    "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather", "Jerry", "Helen",
    "Tyler", "Catherine", "Aaron", "Diane", "Jose", "Julie", "Adam", "Victoria", "Nathan", "Joyce", "Henry",
    "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter", "Ruth", "Kyle", "Joan", "Noah", "Virginia",
    "Ethan", "Judith", "Jeremy", "Evelyn", "Christian", "Hannah", "Walter", "Andrea", "Keith", "Megan",
    "Austin", "Cheryl", "Roger", "Jacqueline", "Terry", "Madison", "Sean", "Teresa", "Gerald", "Abigail",
    "Carl", "Sophia", "Dylan", "Martha", "Harold", "Sara", "Jordan", "Gloria", "Jesse", "Janice", "Bryan",
    "Kathryn", "Lawrence", "Ann", "Arthur", "Isabella", "Gabriel", "Judy", "Bruce", "Charlotte", "Logan",
    "Julia", "Billy", "Grace", "Joe", "Amber", "Alan", "Alice", "Juan", "Jean", "Elijah", "Denise", "Willie",
    "Frances", "Albert", "Danielle", "Wayne", "Marilyn", "Randy", "Natalie", "Mason", "Beverly", "Vincent",
    "Diana", "Liam", "Brittany", "Roy", "Theresa", "Bobby", "Kayla", "Caleb", "Alexis", "Bradley", "Doris",
    "Priya", "Wei", "Aisha", "Mateo", "Yuki", "Fatima", "Lars", "Ingrid", "Rahul", "Mei", "Omar", "Sofia",
]

LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez",
    "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart",
    "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons",
    "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace",
    "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar",
    "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman",
    "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder",
    "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels",
    "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley",
    "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley",
    "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews",
    "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews", "Pena", "Richards",
    "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Okafor", "Lindqvist", "Nakamura", "Kowalski",
]

# Full names common enough to appear at two clients: the namesake hard negative.
COMMON_FULL_NAMES = [("John", "Smith"), ("Michael", "Johnson"), ("Mary", "Williams"), ("David", "Brown"),
                     ("James", "Jones"), ("Maria", "Garcia"), ("Robert", "Miller"), ("Jennifer", "Davis")]

# Nicknames people are entered under by hand ("Bob" in the old notes, "Robert" in the PSA).
NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Richard": "Rick", "James": "Jim", "Michael": "Mike", "Joseph": "Joe",
    "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony",
    "Steven": "Steve", "Andrew": "Andy", "Kenneth": "Ken", "Timothy": "Tim", "Jennifer": "Jen",
    "Elizabeth": "Liz", "Patricia": "Pat", "Margaret": "Peggy", "Katherine": "Kate", "Samantha": "Sam",
    "Jonathan": "Jon", "Nicholas": "Nick", "Benjamin": "Ben", "Alexander": "Alex", "Rebecca": "Becky",
    "Kimberly": "Kim", "Deborah": "Deb", "Stephanie": "Steph", "Gregory": "Greg", "Douglas": "Doug",
}

TITLES = [
    "Office Manager", "Practice Manager", "Owner", "President", "CEO", "CFO", "Controller", "Bookkeeper",
    "Operations Manager", "IT Coordinator", "Receptionist", "Front Desk", "Administrator", "Partner",
    "Paralegal", "Hygienist", "Dentist", "Physician", "Nurse Manager", "Sales Manager", "Project Manager",
    "Estimator", "Superintendent", "HR Manager", "Marketing Coordinator", "Accountant", "Engineer", None,
]

MSP_NAME = "Kraken Techs"
MSP_DOMAIN = "krakentechs.com"

# Hard tenants only (sandbox.variation): more legal forms, and words people abbreviate or drop.
MORE_LEGAL_SUFFIXES = ["PLLC", "P.C.", "L.L.C.", "Incorporated", "Limited", "PLLC", "LLC", "Inc."]
SERVICE_WORDS = ["IT", "Medical", "Legal", "Financial", "Home", "Business", "Environmental", "Technical"]
