"""Shops: registering and finding them (registry), what every request asks about its shop
(lookup, cached per process), its currency, country and time zone (profile), and a setting typed
as text into a validated value (settings).
"""
