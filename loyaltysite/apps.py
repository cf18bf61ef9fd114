from django.contrib.admin.apps import AdminConfig


class LoyaltyAdminConfig(AdminConfig):
    default_site = "loyaltysite.admin.LoyaltyAdminSite"
