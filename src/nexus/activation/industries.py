"""Industries a business may declare, and the preset each one starts from."""

from __future__ import annotations

from enum import StrEnum


class Preset(StrEnum):
    """A starting configuration: modules, roles and settings (`presets/<name>.yaml`)."""

    ECOMMERCE = "ecommerce"
    HEALTHCARE = "healthcare"
    RESTAURANT = "restaurant"
    HOSPITALITY = "hospitality"
    EDUCATION = "education"
    PROFESSIONAL_SERVICES = "professional_services"
    REAL_ESTATE = "real_estate"
    LOGISTICS = "logistics"
    MANUFACTURING = "manufacturing"
    AGRICULTURE = "agriculture"
    BEAUTY_WELLNESS = "beauty_wellness"
    NONPROFIT = "nonprofit"


class Industry(StrEnum):
    """What the business does, in the words a person would pick from a list."""

    ECOMMERCE = "ecommerce"
    RETAIL = "retail"
    WHOLESALE = "wholesale"
    FASHION = "fashion"
    PHARMACY = "pharmacy"
    CLINIC = "clinic"
    HOSPITAL = "hospital"
    DENTAL = "dental"
    LABORATORY = "laboratory"
    RESTAURANT = "restaurant"
    CAFE = "cafe"
    BAKERY = "bakery"
    CATERING = "catering"
    HOTEL = "hotel"
    TRAVEL = "travel"
    EVENTS = "events"
    SCHOOL = "school"
    UNIVERSITY = "university"
    TRAINING = "training"
    PROFESSIONAL_SERVICES = "professional_services"
    LEGAL = "legal"
    ACCOUNTING = "accounting"
    IT_SERVICES = "it_services"
    MEDIA = "media"
    FINTECH = "fintech"
    INSURANCE = "insurance"
    REAL_ESTATE = "real_estate"
    CONSTRUCTION = "construction"
    LOGISTICS = "logistics"
    CLEANING = "cleaning"
    SECURITY = "security"
    AUTOMOTIVE = "automotive"
    MANUFACTURING = "manufacturing"
    AGRICULTURE = "agriculture"
    BEAUTY = "beauty"
    FITNESS = "fitness"
    SPA = "spa"
    NONPROFIT = "nonprofit"
    CHURCH = "church"
    MOSQUE = "mosque"


PRESET_OF: dict[Industry, Preset] = {
    Industry.ECOMMERCE: Preset.ECOMMERCE,
    Industry.RETAIL: Preset.ECOMMERCE,
    Industry.WHOLESALE: Preset.ECOMMERCE,
    Industry.FASHION: Preset.ECOMMERCE,
    Industry.PHARMACY: Preset.HEALTHCARE,
    Industry.CLINIC: Preset.HEALTHCARE,
    Industry.HOSPITAL: Preset.HEALTHCARE,
    Industry.DENTAL: Preset.HEALTHCARE,
    Industry.LABORATORY: Preset.HEALTHCARE,
    Industry.RESTAURANT: Preset.RESTAURANT,
    Industry.CAFE: Preset.RESTAURANT,
    Industry.BAKERY: Preset.RESTAURANT,
    Industry.CATERING: Preset.RESTAURANT,
    Industry.HOTEL: Preset.HOSPITALITY,
    Industry.TRAVEL: Preset.HOSPITALITY,
    Industry.EVENTS: Preset.HOSPITALITY,
    Industry.SCHOOL: Preset.EDUCATION,
    Industry.UNIVERSITY: Preset.EDUCATION,
    Industry.TRAINING: Preset.EDUCATION,
    Industry.PROFESSIONAL_SERVICES: Preset.PROFESSIONAL_SERVICES,
    Industry.LEGAL: Preset.PROFESSIONAL_SERVICES,
    Industry.ACCOUNTING: Preset.PROFESSIONAL_SERVICES,
    Industry.IT_SERVICES: Preset.PROFESSIONAL_SERVICES,
    Industry.MEDIA: Preset.PROFESSIONAL_SERVICES,
    Industry.FINTECH: Preset.PROFESSIONAL_SERVICES,
    Industry.INSURANCE: Preset.PROFESSIONAL_SERVICES,
    Industry.REAL_ESTATE: Preset.REAL_ESTATE,
    Industry.CONSTRUCTION: Preset.REAL_ESTATE,
    Industry.LOGISTICS: Preset.LOGISTICS,
    Industry.CLEANING: Preset.LOGISTICS,
    Industry.SECURITY: Preset.LOGISTICS,
    Industry.AUTOMOTIVE: Preset.MANUFACTURING,
    Industry.MANUFACTURING: Preset.MANUFACTURING,
    Industry.AGRICULTURE: Preset.AGRICULTURE,
    Industry.BEAUTY: Preset.BEAUTY_WELLNESS,
    Industry.FITNESS: Preset.BEAUTY_WELLNESS,
    Industry.SPA: Preset.BEAUTY_WELLNESS,
    Industry.NONPROFIT: Preset.NONPROFIT,
    Industry.CHURCH: Preset.NONPROFIT,
    Industry.MOSQUE: Preset.NONPROFIT,
}


def preset_for(industry: Industry) -> Preset:
    return PRESET_OF[industry]
