"""Quickstart: the brief's pipeline. Run: millrace materialize examples/quickstart"""

from millrace import Definitions

from .assets import clean_transactions, customer_features, raw_transactions, top_customers
from .checks import check_no_nulls, customers_are_recent, spend_is_positive

defs = Definitions(
    assets=[raw_transactions, clean_transactions, customer_features, top_customers],
    asset_checks=[check_no_nulls, spend_is_positive, customers_are_recent],
)
