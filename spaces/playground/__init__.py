"""The Playground: train the MNIST MLP live, and see its weights, a forward pass and a backward step."""
