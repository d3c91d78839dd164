"""Checks of the hand-written math against references (autograd, exact Gauss–Newton, torch.optim);
``lecnn gradcheck`` prints them as one table. Sits above ``manual``, ``nn`` and ``models``."""
