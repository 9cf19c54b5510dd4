raise ImportError("the decoy dataset package was imported instead of cnn.book.dataset")
