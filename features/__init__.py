"""The dataset contract as types and the Great Expectations validation gate derived from it."""
