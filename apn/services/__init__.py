"""Operations on the domain: plain arguments in, model objects out; they flush and never commit."""
