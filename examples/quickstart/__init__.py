"""Quickstart: the brief's pipeline. Run: millrace materialize examples/quickstart"""

from millrace import Definitions

from .assets import clean_transactions, customer_features, raw_transactions

defs = Definitions(assets=[raw_transactions, clean_transactions, customer_features])
