"""Orders and customers from the warehouse, spend per customer, and a small model of it.

Resources and config arrive by parameter, as in Dagster: ``warehouse: WarehouseResource``
receives the resource named ``warehouse``, ``config: TrainConfig`` this run's config of the
asset (``ops.spend_model.config`` in the run config).
"""

import polars as pl
from millrace import AssetExecutionContext, Config, MetadataValue, Output, asset

from .resources import WarehouseResource


@asset(group_name="warehouse", kinds={"sqlite"})
def raw_orders(warehouse: WarehouseResource) -> pl.DataFrame:
    """Every order in the warehouse."""
    return warehouse.query(
        "SELECT order_id, customer_id, ordered_at, amount, status FROM orders ORDER BY order_id"
    )


@asset(group_name="warehouse", kinds={"sqlite"})
def raw_customers(warehouse: WarehouseResource) -> pl.DataFrame:
    """Every customer in the warehouse."""
    return warehouse.query(
        "SELECT customer_id, region, signup_date FROM customers ORDER BY customer_id"
    )


@asset(group_name="features")
def customer_spend(raw_orders: pl.DataFrame, raw_customers: pl.DataFrame) -> pl.DataFrame:
    """Completed orders and total spend per customer who ordered, with their region."""
    completed = raw_orders.filter(pl.col("status") == "completed")
    spend = completed.group_by("customer_id").agg(
        orders=pl.len(), total_spend=pl.col("amount").sum().round(2)
    )
    return spend.join(raw_customers, on="customer_id").sort("customer_id")


class TrainConfig(Config):
    learning_rate: float = 0.1
    epochs: int = 5


@asset(group_name="ml")
def spend_model(
    context: AssetExecutionContext, config: TrainConfig, customer_spend: pl.DataFrame
) -> Output:
    """Total spend as a linear function of the number of orders, fit by gradient descent on
    standardized values; ``config`` sets the learning rate and the number of epochs."""
    x = _standardized(customer_spend["orders"].cast(pl.Float64))
    y = _standardized(customer_spend["total_spend"])
    slope = intercept = 0.0
    for epoch in range(1, config.epochs + 1):
        error = x * slope + intercept - y
        slope -= config.learning_rate * 2 * float((error * x).mean())
        intercept -= config.learning_rate * 2 * float(error.mean())
        context.log.info(f"epoch {epoch}: mse {float((error * error).mean()):.4f}")
    error = x * slope + intercept - y
    mse = float((error * error).mean())
    model = {"slope": slope, "intercept": intercept, "mse": mse}
    return Output(
        model,
        metadata={
            "mse": MetadataValue.float(mse),
            "learning_rate": MetadataValue.float(config.learning_rate),
            "epochs": MetadataValue.int(config.epochs),
        },
    )


def _standardized(values: pl.Series) -> pl.Series:
    return (values - values.mean()) / values.std()
