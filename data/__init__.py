"""Synthetic card-transaction data: the generator, its drift scenarios and the dataset contract."""
