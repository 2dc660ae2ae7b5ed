"""Places a sentence may name: cities (with their country and region) and countries (by name,
abbreviation or demonym). Currency and time zone are not kept here: `resolve` derives them from
the country.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    country: str
    region: str


def _cities(country: str, rows: list[tuple[str, str]]) -> list[City]:
    return [City(name, country, region) for name, region in rows]


NIGERIA = _cities(
    "NG",
    [
        ("Umuahia", "Abia"),
        ("Aba", "Abia"),
        ("Yola", "Adamawa"),
        ("Uyo", "Akwa Ibom"),
        ("Awka", "Anambra"),
        ("Onitsha", "Anambra"),
        ("Bauchi", "Bauchi"),
        ("Yenagoa", "Bayelsa"),
        ("Makurdi", "Benue"),
        ("Maiduguri", "Borno"),
        ("Calabar", "Cross River"),
        ("Asaba", "Delta"),
        ("Warri", "Delta"),
        ("Abakaliki", "Ebonyi"),
        ("Benin City", "Edo"),
        ("Ado-Ekiti", "Ekiti"),
        ("Enugu", "Enugu"),
        ("Abuja", "FCT"),
        ("Gombe", "Gombe"),
        ("Owerri", "Imo"),
        ("Dutse", "Jigawa"),
        ("Kaduna", "Kaduna"),
        ("Kano", "Kano"),
        ("Katsina", "Katsina"),
        ("Birnin Kebbi", "Kebbi"),
        ("Lokoja", "Kogi"),
        ("Ilorin", "Kwara"),
        ("Lagos", "Lagos"),
        ("Ikeja", "Lagos"),
        ("Lafia", "Nasarawa"),
        ("Minna", "Niger"),
        ("Abeokuta", "Ogun"),
        ("Akure", "Ondo"),
        ("Osogbo", "Osun"),
        ("Ibadan", "Oyo"),
        ("Jos", "Plateau"),
        ("Port Harcourt", "Rivers"),
        ("Sokoto", "Sokoto"),
        ("Jalingo", "Taraba"),
        ("Damaturu", "Yobe"),
        ("Gusau", "Zamfara"),
    ],
)
ELSEWHERE = [
    *_cities("GH", [("Accra", "Greater Accra"), ("Kumasi", "Ashanti"), ("Tamale", "Northern")]),
    *_cities("GH", [("Takoradi", "Western"), ("Cape Coast", "Central")]),
    *_cities("KE", [("Nairobi", "Nairobi"), ("Mombasa", "Mombasa"), ("Kisumu", "Kisumu")]),
    *_cities("KE", [("Nakuru", "Nakuru"), ("Eldoret", "Uasin Gishu")]),
    *_cities("ZA", [("Johannesburg", "Gauteng"), ("Pretoria", "Gauteng")]),
    *_cities("ZA", [("Cape Town", "Western Cape"), ("Durban", "KwaZulu-Natal")]),
    *_cities("ZA", [("Gqeberha", "Eastern Cape")]),
    *_cities("EG", [("Cairo", "Cairo"), ("Alexandria", "Alexandria"), ("Giza", "Giza")]),
    *_cities("RW", [("Kigali", "Kigali")]),
    *_cities("UG", [("Kampala", "Central"), ("Entebbe", "Central"), ("Gulu", "Northern")]),
    *_cities("TZ", [("Dar es Salaam", "Dar es Salaam"), ("Dodoma", "Dodoma")]),
    *_cities("TZ", [("Arusha", "Arusha"), ("Zanzibar", "Zanzibar")]),
    *_cities("SN", [("Dakar", "Dakar"), ("Thiès", "Thiès"), ("Saint-Louis", "Saint-Louis")]),
    *_cities("CI", [("Abidjan", "Abidjan"), ("Yamoussoukro", "Yamoussoukro")]),
    *_cities("CI", [("Bouaké", "Vallée du Bandama")]),
    *_cities("CM", [("Douala", "Littoral"), ("Yaoundé", "Centre")]),
    *_cities("GB", [("London", "England"), ("Manchester", "England")]),
    *_cities("GB", [("Birmingham", "England"), ("Liverpool", "England")]),
    *_cities("GB", [("Leeds", "England"), ("Bristol", "England")]),
    *_cities("GB", [("Glasgow", "Scotland"), ("Edinburgh", "Scotland"), ("Cardiff", "Wales")]),
    *_cities("US", [("New York", "NY"), ("Los Angeles", "CA"), ("Chicago", "IL")]),
    *_cities("US", [("Houston", "TX"), ("San Francisco", "CA"), ("Atlanta", "GA")]),
    *_cities("US", [("Seattle", "WA"), ("Boston", "MA"), ("Miami", "FL")]),
    *_cities("US", [("Washington DC", "DC")]),
    *_cities("CA", [("Toronto", "ON"), ("Montreal", "QC"), ("Vancouver", "BC")]),
    *_cities("CA", [("Calgary", "AB"), ("Ottawa", "ON")]),
    *_cities("IN", [("Mumbai", "Maharashtra"), ("Delhi", "Delhi"), ("New Delhi", "Delhi")]),
    *_cities("IN", [("Bengaluru", "Karnataka"), ("Chennai", "Tamil Nadu")]),
    *_cities("IN", [("Hyderabad", "Telangana"), ("Kolkata", "West Bengal")]),
    *_cities("IN", [("Pune", "Maharashtra")]),
    *_cities("AE", [("Dubai", "Dubai"), ("Abu Dhabi", "Abu Dhabi"), ("Sharjah", "Sharjah")]),
]
CITIES: dict[str, City] = {city.name.lower(): city for city in [*NIGERIA, *ELSEWHERE]}

#: Other spellings of a city → its name in `CITIES`.
CITY_ALIASES = {
    "port-harcourt": "port harcourt",
    "portharcourt": "port harcourt",
    "ado ekiti": "ado-ekiti",
    "oshogbo": "osogbo",
    "benin-city": "benin city",
    "fct": "abuja",
    "bangalore": "bengaluru",
    "bombay": "mumbai",
    "calcutta": "kolkata",
    "madras": "chennai",
    "nyc": "new york",
    "new york city": "new york",
    "port elizabeth": "gqeberha",
    "thies": "thiès",
    "bouake": "bouaké",
    "yaounde": "yaoundé",
    "montréal": "montreal",
    "washington d.c.": "washington dc",
    "washington, d.c.": "washington dc",
}

#: Country code → its name in a sentence.
COUNTRY_NAMES = {
    "NG": "Nigeria",
    "GH": "Ghana",
    "KE": "Kenya",
    "ZA": "South Africa",
    "EG": "Egypt",
    "RW": "Rwanda",
    "UG": "Uganda",
    "TZ": "Tanzania",
    "SN": "Senegal",
    "CI": "Côte d'Ivoire",
    "CM": "Cameroon",
    "GB": "United Kingdom",
    "US": "United States",
    "CA": "Canada",
    "IN": "India",
    "AE": "United Arab Emirates",
}

#: Names of countries, matched case-insensitively (lowercase here).
COUNTRY_WORDS: dict[str, str] = {
    "nigeria": "NG",
    "naija": "NG",
    "ghana": "GH",
    "kenya": "KE",
    "south africa": "ZA",
    "egypt": "EG",
    "rwanda": "RW",
    "uganda": "UG",
    "tanzania": "TZ",
    "senegal": "SN",
    "côte d'ivoire": "CI",
    "cote d'ivoire": "CI",
    "ivory coast": "CI",
    "cameroon": "CM",
    "united kingdom": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "united states": "US",
    "america": "US",
    "canada": "CA",
    "india": "IN",
    "united arab emirates": "AE",
}

#: Demonyms: weaker than a city ("a Nigerian restaurant in London" is in London).
DEMONYMS: dict[str, str] = {
    "nigerian": "NG",
    "ghanaian": "GH",
    "kenyan": "KE",
    "south african": "ZA",
    "egyptian": "EG",
    "rwandan": "RW",
    "ugandan": "UG",
    "tanzanian": "TZ",
    "senegalese": "SN",
    "ivorian": "CI",
    "cameroonian": "CM",
    "british": "GB",
    "american": "US",
    "canadian": "CA",
    "indian": "IN",
    "emirati": "AE",
}

#: Abbreviations matched only in capitals, so that "us" in a sentence is not a country.
COUNTRY_ABBREVIATIONS = {"UK": "GB", "U.K.": "GB", "US": "US", "USA": "US", "U.S.": "US"}
COUNTRY_ABBREVIATIONS |= {"UAE": "AE", "RSA": "ZA"}

#: Currency words and codes a sentence may name (codes matched only in capitals).
CURRENCY_WORDS = {
    "naira": "NGN",
    "cedi": "GHS",
    "cedis": "GHS",
    "rand": "ZAR",
    "sterling": "GBP",
    "rupees": "INR",
    "dirhams": "AED",
}
CURRENCY_CODES = frozenset(
    [
        "NGN",
        "GHS",
        "KES",
        "ZAR",
        "EGP",
        "RWF",
        "UGX",
        "TZS",
        "XOF",
        "XAF",
        "GBP",
        "USD",
        "CAD",
        "INR",
        "AED",
        "EUR",
    ]
)
